/** ASP.NET-style route templates, as the Functions host matches them for HTTP triggers. */

export interface CompiledRoute {
  template: string;
  regex: RegExp;
  params: string[];
  /** Literal segments count first when several routes match, as in ASP.NET routing. */
  literalSegments: number;
}

const constraintPatterns: Record<string, string> = {
  int: '-?\\d+',
  long: '-?\\d+',
  double: '-?\\d+(?:\\.\\d+)?',
  decimal: '-?\\d+(?:\\.\\d+)?',
  float: '-?\\d+(?:\\.\\d+)?',
  bool: '(?:true|false)',
  alpha: '[A-Za-z]+',
  guid: '[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}',
};

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Compiles a template such as `releases/{id}/{action?}` or `files/{*path}`; throws on an invalid template. */
export function compileRoute(template: string): CompiledRoute {
  const segments = template.split('/').filter((s) => s.length > 0);
  const params: string[] = [];
  let pattern = '';
  let literalSegments = 0;
  for (const segment of segments) {
    const match = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?\}$/.exec(segment);
    if (!match) {
      if (/[{}]/.test(segment)) throw new Error(`Invalid route template "${template}": segment "${segment}" mixes text and parameters, which devhost does not support.`);
      pattern += `/${escapeRegex(segment)}`;
      literalSegments += 1;
      continue;
    }
    const [, catchAll, name = '', constraint, optional] = match;
    params.push(name);
    if (catchAll) {
      pattern += `(?:/(?<${name}>.*))?`;
      continue;
    }
    const valuePattern = (constraint && constraintPatterns[constraint.toLowerCase()]) ?? '[^/]+';
    pattern += optional ? `(?:/(?<${name}>${valuePattern}))?` : `/(?<${name}>${valuePattern})`;
  }
  return { template, regex: new RegExp(`^${pattern}/?$`, 'i'), params, literalSegments };
}

/** Matches a path (without prefix, starting with `/`) and returns its decoded parameters. */
export function matchRoute(route: CompiledRoute, pathname: string): Record<string, string> | undefined {
  const match = route.regex.exec(pathname === '' ? '/' : pathname);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (const name of route.params) {
    const value = match.groups?.[name];
    if (value !== undefined) params[name] = decodeURIComponent(value);
  }
  return params;
}
