import { parseSchedule } from '../../devhost/timers';
import { compileRoute, matchRoute } from '../../devhost/routes';
import { retryDelayMs, unwrapStringInput } from '../../devhost/durable/protocol';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('ncrontab schedule', () => {
  test.each([
    ['0 */5 * * * *', '2026-01-01T10:02:30.000Z', '2026-01-01T10:05:00.000Z'],
    ['30 0 9 * * MON-FRI', '2026-01-02T09:00:30.000Z', '2026-01-05T09:00:30.000Z'],
    ['0 0 0 1 JAN *', '2026-06-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['0 0 12 29 2 *', '2026-03-01T00:00:00.000Z', '2028-02-29T12:00:00.000Z'],
    ['*/10 * * * * *', '2026-01-01T00:00:09.500Z', '2026-01-01T00:00:10.000Z'],
    ['0 15,45 8-9 * * *', '2026-01-01T08:46:00.000Z', '2026-01-01T09:15:00.000Z'],
    ['0 0 0 * * 0', '2026-01-01T00:00:00.000Z', '2026-01-04T00:00:00.000Z'],
    ['0 0 0 * * 7', '2026-01-01T00:00:00.000Z', '2026-01-04T00:00:00.000Z'],
    ['00:05:00', '2026-01-01T00:00:00.000Z', '2026-01-01T00:05:00.000Z'],
  ])('%s after %s', (expression, after, expected) => {
    expect(iso(parseSchedule(expression).next(at(after)))).toBe(expected);
  });

  test.each([['* * * * *'], ['0 0 25 * * *'], ['0 0 0 31 2 *'], ['0 */0 * * * *'], ['x * * * * *']])('rejects %s', (expression) => {
    expect(() => parseSchedule(expression).next(at('2026-01-01T00:00:00Z'))).toThrow(/schedule/i);
  });
});

describe('route templates', () => {
  test('matches params and constraints', () => {
    const route = compileRoute('releases/{id:int}/{action?}');
    expect(matchRoute(route, '/releases/12/approve')).toEqual({ id: '12', action: 'approve' });
    expect(matchRoute(route, '/releases/12')).toEqual({ id: '12' });
    expect(matchRoute(route, '/releases/abc')).toBeUndefined();
  });

  test('catch-all and encoded values', () => {
    const route = compileRoute('files/{*path}');
    expect(matchRoute(route, '/files/a/b%20c.txt')).toEqual({ path: 'a/b c.txt' });
    expect(matchRoute(compileRoute('Hooks/GitHub'), '/hooks/github')).toEqual({});
  });

  test('rejects mixed segments', () => {
    expect(() => compileRoute('a/x{id}')).toThrow(/mixes text and parameters/);
  });
});

describe('protocol helpers', () => {
  test('retry delay backs off to the maximum', () => {
    const options = { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 5, backoffCoefficient: 2, maxRetryIntervalInMilliseconds: 3000 };
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(options, attempt))).toEqual([1000, 2000, 3000, 3000]);
  });

  test('string activity input is unwrapped once', () => {
    expect(unwrapStringInput('"Tokyo"')).toBe('Tokyo');
    expect(unwrapStringInput('not json')).toBe('not json');
    expect(unwrapStringInput({ a: 1 })).toEqual({ a: 1 });
  });
});
