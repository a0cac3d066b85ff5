// The API client: openapi-fetch over the types generated from the server's OpenAPI document
// (`npm run gen:api`; src/api/schema.d.ts is generated, never edited by hand).
import createClient from "openapi-fetch";

import type { paths } from "./schema";

export const api = createClient<paths>({ baseUrl: "" });
