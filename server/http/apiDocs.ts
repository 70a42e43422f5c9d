import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type Router } from 'express';

/** Swagger UI's files, from the npm package (served as they are: nothing is fetched from elsewhere). */
const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>conflux REST API</title><link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="api"></div><script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/start.js"></script></body>
</html>
`;
const START = "window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#api', deepLinking: true });\n";

/** `/docs`: the OpenAPI document (`/openapi.json`) as a page to read and try, served offline. */
export function apiDocs(): Router {
  const docs = express.Router();
  docs.get('/', (_request, response) => {
    response.type('html').send(PAGE);
  });
  docs.get('/start.js', (_request, response) => {
    response.type('js').send(START);
  });
  docs.use(express.static(SWAGGER_UI_DIR, { index: false, fallthrough: false }));
  return docs;
}
