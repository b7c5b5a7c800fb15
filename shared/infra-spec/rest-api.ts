/**
 * The REST API's settings as data, shared by the CDK stack (infra/aws/reverie-runtime.ts) and the
 * API Gateway front of the AWS-on-moto tests (test/moto/api-gateway-front.ts), so both treat the
 * same requests and responses as binary.
 */

/**
 * Content types API Gateway passes to the function base64-encoded (request bodies whose
 * Content-Type matches) and converts back to bytes (responses marked `isBase64Encoded` when the
 * request's first Accept type matches). Uploads are multipart. The SDK downloads files and skill
 * versions with `Accept: application/binary`: without that type here API Gateway hands the client
 * the base64 text instead of the file (found by test/moto's front, which applies that rule).
 */
export const restApiBinaryMediaTypes = [
  "multipart/form-data",
  "application/octet-stream",
  "application/binary",
];

/** The stage the SDK's base URL ends with (`…/prod`). */
export const restApiDefaultStageName = "prod";
