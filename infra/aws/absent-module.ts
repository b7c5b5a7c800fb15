/**
 * Stands in, inside a Lambda bundle, for a dependency that the bundled code imports but never uses
 * (esbuild `--alias`, see reverie-runtime.ts): loading it costs nothing, using it throws.
 */
export default function absentModule(): never {
  throw new Error("this module is not part of the Lambda bundle (see infra/aws/absent-module.ts)");
}
