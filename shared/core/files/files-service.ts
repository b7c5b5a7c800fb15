/**
 * /v1/files: upload (multipart), list, metadata, download, delete. The bytes go to the blob store
 * first and the metadata item second, so a crash between leaves an unreferenced blob, never metadata
 * without content; delete removes the metadata first for the same reason.
 */
import { ApiError, InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import type { BetaFileMetadata } from "../../contract/files.js";
import { collectPage, decodeCursor, type PageCursorBody } from "../paging.js";
import type {
  Clock,
  DocumentStore,
  FileBlobStore,
  IdGenerator,
  StoredItem,
  WorkspaceStore,
} from "../ports.js";

const filesKey = (ws: string) => `ws#${ws}#file`;
const blobKey = (ws: string, fileId: string) => `files/${ws}/${fileId}`;

/** Limits of uploads (Files API). */
export interface FileLimits {
  /** Largest upload, bytes (REVERIE_FILE_MAX_BYTES). */
  maxBytes: number;
}

export interface FileUpload {
  filename: string;
  mimeType: string;
  bytes: Uint8Array;
  expiresInSeconds?: number;
}

export interface FileListQuery {
  limit: number;
  page?: string;
  scope_id?: string;
  ids?: string[];
}

export class FilesService {
  constructor(
    private readonly store: DocumentStore,
    private readonly blobs: FileBlobStore,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    private readonly limits: FileLimits,
  ) {}

  async upload(workspaceId: string, upload: FileUpload): Promise<BetaFileMetadata> {
    if (upload.bytes.byteLength > this.limits.maxBytes)
      throw fileTooLarge(upload.bytes.byteLength, this.limits.maxBytes);
    if (!upload.filename) throw new InvalidRequestError("file: the upload has no filename");
    const now = this.clock.now();
    const file: BetaFileMetadata = {
      id: this.ids.next("file"),
      type: "file",
      filename: upload.filename.slice(0, 500),
      mime_type: upload.mimeType || "application/octet-stream",
      size_bytes: upload.bytes.byteLength,
      created_at: new Date(now).toISOString(),
      downloadable: true,
      expires_at: upload.expiresInSeconds
        ? new Date(now + upload.expiresInSeconds * 1000).toISOString()
        : null,
      scope: null,
    };
    await this.blobs.put(blobKey(workspaceId, file.id), upload.bytes, file.mime_type);
    await this.store.put(
      "resources",
      { pk: filesKey(workspaceId), sk: file.id, file },
      { ifNotExists: true },
    );
    return file;
  }

  async retrieve(workspaceId: string, fileId: string): Promise<BetaFileMetadata> {
    const item = await this.store.get("resources", filesKey(workspaceId), fileId);
    const file = item?.file as BetaFileMetadata | undefined;
    if (!file || this.expired(file)) throw new NotFoundError("file", fileId);
    return file;
  }

  /** The file's bytes with its metadata. */
  async download(
    workspaceId: string,
    fileId: string,
  ): Promise<{ file: BetaFileMetadata; bytes: Uint8Array }> {
    const file = await this.retrieve(workspaceId, fileId);
    const bytes = await this.blobs.get(blobKey(workspaceId, fileId));
    if (!bytes) throw new NotFoundError("file content", fileId);
    return { file, bytes };
  }

  async delete(workspaceId: string, fileId: string): Promise<{ id: string; type: "file_deleted" }> {
    await this.retrieve(workspaceId, fileId);
    await this.store.delete("resources", filesKey(workspaceId), fileId);
    await this.blobs.delete(blobKey(workspaceId, fileId));
    return { id: fileId, type: "file_deleted" };
  }

  async list(workspaceId: string, query: FileListQuery): Promise<PageCursorBody<BetaFileMetadata>> {
    if (query.ids) {
      if (query.page) throw new InvalidRequestError("ids: cannot be combined with page");
      const unique = [...new Set(query.ids)];
      if (unique.length > 100) throw new InvalidRequestError("ids: at most 100 entries");
      const found = await Promise.all(
        unique.map((id) => this.retrieve(workspaceId, id).catch(() => undefined)),
      );
      return {
        data: found.filter((f): f is BetaFileMetadata => Boolean(f)),
        next_page: null,
      } as PageCursorBody<BetaFileMetadata>;
    }
    // Newest first, like Anthropic's Files API.
    return collectPage<StoredItem, BetaFileMetadata>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (before, limit) =>
        this.store.query("resources", filesKey(workspaceId), {
          before: before as string | undefined,
          limit,
          order: "desc",
        }),
      keyOf: (i) => i.sk,
      keep: (i) => {
        const f = i.file as BetaFileMetadata;
        return !this.expired(f) && (!query.scope_id || f.scope?.id === query.scope_id);
      },
      map: (i) => i.file as BetaFileMetadata,
    });
  }

  private expired(file: BetaFileMetadata): boolean {
    return Boolean(file.expires_at && Date.parse(file.expires_at) <= this.clock.now());
  }
}

function fileTooLarge(size: number, max: number): ApiError {
  return new ApiError(
    "request_too_large",
    `file is ${size} bytes; uploads are limited to ${max} bytes (REVERIE_FILE_MAX_BYTES)`,
  );
}

/**
 * Copies an uploaded file into a session's workspace at `path` (for session file resources, which
 * mount files into the shared workspace). The workspace store holds text: a file that is not valid
 * UTF-8 is refused rather than corrupted.
 */
export async function copyFileToWorkspace(
  files: FilesService,
  workspace: WorkspaceStore,
  options: { workspaceId: string; fileId: string; sessionWorkspaceId: string; path: string },
): Promise<{ path: string; size_bytes: number }> {
  const { file, bytes } = await files.download(options.workspaceId, options.fileId);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidRequestError(
      `file ${file.id} (${file.mime_type}) is not UTF-8 text; only text files can be mounted into a workspace`,
    );
  }
  await workspace.write(options.sessionWorkspaceId, options.path, text);
  return { path: options.path, size_bytes: file.size_bytes };
}
