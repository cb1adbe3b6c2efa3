// Bundles GraphiQL and the page's script into api/src/http/playground/app.js and app.css, which
// the gateway embeds (api/src/http/graphiql.rs). Rebuild with `npm ci && npm run build` in this
// folder and commit both files: building the gateway needs no Node.js.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, '..', 'api', 'src', 'http', 'playground');

await build({
  entryPoints: { app: join(here, 'src', 'main.js') },
  outdir,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  platform: 'browser',
  define: { 'process.env.NODE_ENV': '"production"' },
  // Everything the page loads comes from the gateway: fonts and images stay inlined as data: URLs.
  loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.png': 'dataurl', '.svg': 'dataurl' },
  // The packages' own license notices stay, gathered at the end of each file.
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'info',
});

// The page must not reach anywhere else: no absolute URL may be fetched by the bundle.
for (const file of ['app.js', 'app.css']) {
  const text = readFileSync(join(outdir, file), 'utf8');
  const urls = [...new Set(text.match(/\b(?:https?|wss?):\/\/[^\s"'`)\\]+/g) || [])];
  console.log(`${file}: ${text.length} bytes, ${urls.length} absolute URLs`);
  for (const url of urls) console.log(`  ${url}`);
}
