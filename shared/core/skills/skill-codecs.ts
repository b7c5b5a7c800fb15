/**
 * The zip and YAML code skill bundles need, in a module of its own so that skill-bundle.ts can
 * import it on first use (`await import`): a bundle then evaluates fflate (packing the canonical
 * archive) and js-yaml (front matter) only when a skill is uploaded, and carries only the parts of
 * them used here. Archives are read by upload-zip.ts (Node's zlib), not fflate.
 */
export { zipSync } from "fflate";
export { load as parseYaml } from "js-yaml";
