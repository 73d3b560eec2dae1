/** An image to put into the simulated registry, by digest and optional tag. */
export interface ImagePush {
  repository: string;
  digest: string;
  tag?: string;
  mediaType?: string;
  /** Manifest size in bytes. */
  size?: number;
  architecture?: string;
  os?: string;
}

interface ManifestRecord {
  digest: string;
  mediaType: string;
  imageSize: number;
  architecture: string;
  os: string;
  createdTime: string;
  lastUpdateTime: string;
}

interface TagRecord {
  digest: string;
  createdTime: string;
  lastUpdateTime: string;
}

interface RepositoryRecord {
  name: string;
  createdTime: string;
  lastUpdateTime: string;
  manifests: Map<string, ManifestRecord>;
  tags: Map<string, TagRecord>;
}

const digestForm = /^sha256:[0-9a-f]{64}$/;
const repositoryForm = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const tagForm = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const changeableAttributes = { deleteEnabled: true, writeEnabled: true, readEnabled: true, listEnabled: true };

/**
 * The repositories, manifests and tags of the simulated registry. The data
 * plane reads it, and simulated builds and the control API push into it.
 * Only metadata is kept: no layer or manifest bytes.
 */
export class RegistryStore {
  private readonly repositories = new Map<string, RepositoryRecord>();

  constructor(readonly loginServer: string) {}

  /** Adds a manifest (and moves the tag to it); throws on an invalid repository, digest or tag. */
  push(image: ImagePush): void {
    if (!repositoryForm.test(image.repository)) throw new Error(`repository "${image.repository}" is invalid: use lowercase path components such as "serving/mlserver"`);
    if (!digestForm.test(image.digest)) throw new Error(`digest "${image.digest}" is invalid: expected sha256: and 64 lowercase hex digits`);
    if (image.tag !== undefined && !tagForm.test(image.tag)) throw new Error(`tag "${image.tag}" is invalid: use at most 128 letters, digits, "_", "." and "-"`);
    const now = new Date().toISOString();
    let repository = this.repositories.get(image.repository);
    if (!repository) {
      repository = { name: image.repository, createdTime: now, lastUpdateTime: now, manifests: new Map(), tags: new Map() };
      this.repositories.set(image.repository, repository);
    }
    const existing = repository.manifests.get(image.digest);
    repository.manifests.set(image.digest, {
      digest: image.digest,
      mediaType: image.mediaType ?? existing?.mediaType ?? 'application/vnd.docker.distribution.manifest.v2+json',
      imageSize: image.size ?? existing?.imageSize ?? 1153,
      architecture: image.architecture ?? existing?.architecture ?? 'amd64',
      os: image.os ?? existing?.os ?? 'linux',
      createdTime: existing?.createdTime ?? now,
      lastUpdateTime: now,
    });
    if (image.tag !== undefined) {
      const tag = repository.tags.get(image.tag);
      repository.tags.set(image.tag, { digest: image.digest, createdTime: tag?.createdTime ?? now, lastUpdateTime: now });
    }
    repository.lastUpdateTime = now;
  }

  repositoryNames(): string[] {
    return [...this.repositories.keys()].sort();
  }

  /** Repository properties as `GET /acr/v1/{name}` returns them, or undefined. */
  repositoryProperties(name: string): Record<string, unknown> | undefined {
    const repository = this.repositories.get(name);
    if (!repository) return undefined;
    return {
      registry: this.loginServer,
      imageName: repository.name,
      createdTime: repository.createdTime,
      lastUpdateTime: repository.lastUpdateTime,
      manifestCount: repository.manifests.size,
      tagCount: repository.tags.size,
      changeableAttributes,
    };
  }

  /** Manifest attributes of `digest` with the tags that point at it, or undefined. */
  manifest(name: string, digest: string): Record<string, unknown> | undefined {
    const repository = this.repositories.get(name);
    const manifest = repository?.manifests.get(digest);
    if (!repository || !manifest) return undefined;
    const tags = [...repository.tags.entries()].filter(([, tag]) => tag.digest === digest).map(([tag]) => tag).sort();
    return {
      digest: manifest.digest,
      imageSize: manifest.imageSize,
      createdTime: manifest.createdTime,
      lastUpdateTime: manifest.lastUpdateTime,
      architecture: manifest.architecture,
      os: manifest.os,
      mediaType: manifest.mediaType,
      ...(tags.length > 0 ? { tags } : {}),
      changeableAttributes,
    };
  }

  manifests(name: string): Record<string, unknown>[] | undefined {
    const repository = this.repositories.get(name);
    if (!repository) return undefined;
    return [...repository.manifests.keys()].map((digest) => this.manifest(name, digest) ?? {});
  }

  /** Tag attributes as the data plane returns them, or undefined. */
  tag(name: string, tag: string): Record<string, unknown> | undefined {
    const record = this.repositories.get(name)?.tags.get(tag);
    if (!record) return undefined;
    return { name: tag, digest: record.digest, createdTime: record.createdTime, lastUpdateTime: record.lastUpdateTime, signed: false, changeableAttributes };
  }

  tags(name: string): Record<string, unknown>[] | undefined {
    const repository = this.repositories.get(name);
    if (!repository) return undefined;
    return [...repository.tags.keys()].sort().map((tag) => this.tag(name, tag) ?? {});
  }
}
