/**
 * File rubrics (`rubric: {type: "file", file_id}`): the rubric's text is read from an uploaded file
 * when the outcome is defined and pinned on the outcome's definition, so deleting or replacing the
 * file later does not change an evaluation already under way.
 */
import { InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import { type DefineOutcomeParams, MAX_RUBRIC_CHARS } from "../../contract/outcomes.js";
import type { FilesService } from "../files/files-service.js";

/**
 * Largest rubric file, bytes (256 KiB): the pinned text goes into one outcome definition item, which
 * must stay under DynamoDB's 400 KB; this also keeps it within the SDK's 262,144-character limit.
 */
export const MAX_RUBRIC_FILE_BYTES = 262_144;

/**
 * The text of an outcome's rubric: a text rubric's content, or a file rubric's file decoded as UTF-8.
 *
 * @throws InvalidRequestError when the file is missing (or another workspace's), too large, not
 *   UTF-8 text, empty, or longer than the rubric limit; `root` names the event in the message.
 */
export async function rubricText(
  files: FilesService | undefined,
  workspaceId: string,
  event: DefineOutcomeParams,
  root: string,
): Promise<string> {
  if (event.rubric.type === "text") return event.rubric.content;
  const at = `${root}.rubric.file_id`;
  const fileId = event.rubric.file_id;
  if (!files) throw new InvalidRequestError(`${at}: this server has no Files API configured`);
  let meta: Awaited<ReturnType<FilesService["retrieve"]>>;
  try {
    meta = await files.retrieve(workspaceId, fileId);
  } catch (error) {
    if (error instanceof NotFoundError) throw new InvalidRequestError(`${at}: file ${fileId} not found`);
    throw error;
  }
  // Checked on the metadata first so an oversized file is refused without downloading it.
  if (meta.size_bytes > MAX_RUBRIC_FILE_BYTES)
    throw new InvalidRequestError(
      `${at}: file ${fileId} is ${meta.size_bytes} bytes; a rubric file is at most ${MAX_RUBRIC_FILE_BYTES} bytes`,
    );
  let bytes: Uint8Array;
  try {
    ({ bytes } = await files.download(workspaceId, fileId));
  } catch (error) {
    if (error instanceof NotFoundError) throw new InvalidRequestError(`${at}: file ${fileId} not found`);
    throw error;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidRequestError(`${at}: file ${fileId} (${meta.mime_type}) is not UTF-8 text`);
  }
  if (text.trim() === "") throw new InvalidRequestError(`${at}: file ${fileId} is empty`);
  return text.slice(0, MAX_RUBRIC_CHARS);
}
