/** `html` tagged templates rendering Preact vnodes (htm): views without a JSX build step. */
export { html } from "htm/preact";
