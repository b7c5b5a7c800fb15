/**
 * The zip and YAML code skill bundles need, in a module of its own so that skill-bundle.ts can
 * import it on first use (`await import`): a bundle then evaluates fflate and js-yaml only when a
 * skill is read or packed, and carries only the parts of them used here.
 */
export { unzipSync, zipSync } from "fflate";
export { load as parseYaml } from "js-yaml";
