// An Apollo Gateway over running subgraphs, composed at start-up with IntrospectAndCompose
// (each subgraph's `_service { sdl }`), served on a free loopback port.
// stdin: {"subgraphs": [{"name", "url", "headers"?}]}; prints {"url": ...} once ready, then
// serves until killed. Used by devgraph's end-to-end federation test.
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { subgraphs } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const headersOf = new Map(subgraphs.map((s) => [s.url, s.headers ?? {}]));

class Subgraph extends RemoteGraphQLDataSource {
  willSendRequest({ request }) {
    for (const [key, value] of Object.entries(headersOf.get(this.url) ?? {})) {
      request.http.headers.set(key, value);
    }
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({
    subgraphs: subgraphs.map(({ name, url }) => ({ name, url })),
  }),
  buildService: ({ url }) => new Subgraph({ url }),
});
const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, { listen: { host: "127.0.0.1", port: 0 } });
process.stdout.write(JSON.stringify({ url }) + "\n");
