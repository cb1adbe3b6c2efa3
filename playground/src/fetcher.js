// Queries and mutations go over HTTP with the headers typed in the Headers tab; subscriptions go
// over WebSocket (graphql-transport-ws) with the same headers as connection parameters, so one
// `Authorization` header works for both.
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { parse, print } from 'graphql';
import { createClient } from 'graphql-ws';

// Decided from the text being sent: GraphiQL's own parsed document (`opts.documentAST`) lags the
// editor by a moment, so a subscription run right after typing would otherwise go over HTTP.
function parsedDocument(params, opts) {
  try {
    return parse(params.query);
  } catch {
    return opts && opts.documentAST;
  }
}

export function isSubscription(params, opts) {
  const doc = parsedDocument(params, opts);
  if (!doc) return /^\s*subscription\b/.test(params.query);
  return doc.definitions.some(
    (d) =>
      d.kind === 'OperationDefinition' &&
      d.operation === 'subscription' &&
      (!params.operationName || (d.name && d.name.value === params.operationName)),
  );
}

// One WebSocket per subscription, closed when GraphiQL stops it.
function subscribe(wsEndpoint, params, headers) {
  const client = createClient({ url: wsEndpoint, connectionParams: headers || {}, lazy: true });
  const iterator = client.iterate(params);
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => iterator.next(),
    return: async () => {
      client.dispose();
      return { done: true, value: undefined };
    },
  };
}

// The gateway refuses operations nested deeper than GRAPHQL_MAX_DEPTH (12 by default), and
// GraphiQL's introspection query is 15 deep: its TypeRef fragment follows `ofType` 9 times. Six
// times still describes any type up to `[[T!]!]!` (the schema's deepest is `[T!]!`), and makes the
// query 12 deep, so the documentation explorer and autocompletion get the schema.
const TYPE_REF_DEPTH = 6;

function withoutDeepOfType(selectionSet, depth) {
  return {
    ...selectionSet,
    selections: selectionSet.selections.flatMap((selection) => {
      if (selection.kind !== 'Field' || selection.name.value !== 'ofType') return [selection];
      if (depth === 0) return [];
      return [{ ...selection, selectionSet: withoutDeepOfType(selection.selectionSet, depth - 1) }];
    }),
  };
}

export function shallowIntrospection(query) {
  const doc = parse(query);
  return print({
    ...doc,
    definitions: doc.definitions.map((definition) =>
      definition.kind === 'FragmentDefinition' && definition.name.value === 'TypeRef'
        ? { ...definition, selectionSet: withoutDeepOfType(definition.selectionSet, TYPE_REF_DEPTH) }
        : definition,
    ),
  });
}

// `endpoint` is the absolute http(s) URL of the GraphQL endpoint; the WebSocket URL is the same
// with ws(s).
export function createFetcher(endpoint) {
  const wsEndpoint = endpoint.replace(/^http/, 'ws');
  const http = createGraphiQLFetcher({ url: endpoint });
  return (params, opts) => {
    if (isSubscription(params, opts)) return subscribe(wsEndpoint, params, opts && opts.headers);
    if (params.operationName === 'IntrospectionQuery') {
      return http({ ...params, query: shallowIntrospection(params.query) }, opts);
    }
    return http(params, opts);
  };
}
