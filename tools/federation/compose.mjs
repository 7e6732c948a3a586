// Compose subgraph SDLs into a supergraph with Apollo's own composition library, offline.
// stdin: [{"name": ..., "url": ..., "sdl": ...}]; stdout: {"errors": [...], "hints": [...],
// "supergraphSdl": ...}. Used by devgraph's subgraph tests (tests/federation/test_subgraph.py).
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const services = JSON.parse(Buffer.concat(chunks).toString("utf8")).map((s) => ({
  name: s.name,
  url: s.url,
  typeDefs: parse(s.sdl),
}));
const result = composeServices(services);
process.stdout.write(
  JSON.stringify({
    errors: (result.errors ?? []).map((e) => e.message),
    hints: (result.hints ?? []).map((h) => h.toString()),
    supergraphSdl: result.supergraphSdl ?? null,
  }),
);
