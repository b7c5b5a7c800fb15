/**
 * zod's English messages for `zod/mini` schemas. The schemas a process builds when it loads (the
 * configuration, the session's run state) use `zod/mini`: zod's functional API, whose schemas cost a
 * fraction of classic ones to construct, and a Lambda function builds these on every cold start
 * (docs/performance.md, "Cold init"). Classic `zod` registers its English messages when it builds its
 * first schema; `zod/mini` never does, so a module that builds `zod/mini` schemas imports this one
 * for its effect: the same messages (unless a locale is set already).
 */
import { en } from "zod/locales";
import { config } from "zod/mini";

if (!config().localeError) config(en());
