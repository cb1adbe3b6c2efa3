// The playground page's only script. The page (api/src/http/graphiql.html) carries the settings
// as data attributes on #graphiql, so it needs no inline script and its CSP can forbid them.
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import 'graphiql/graphiql.css';
import './page.css';
import { createFetcher } from './fetcher.js';

const root = document.getElementById('graphiql');
const endpoint = new URL(root.dataset.endpoint || '/graphql', window.location.href).toString();
const defaultHeaders = JSON.parse(root.dataset.defaultHeaders || '{"Authorization": ""}');

createRoot(root).render(
  createElement(GraphiQL, {
    fetcher: createFetcher(endpoint),
    // Fill in "Bearer <accessToken>" from signup or login; empty means anonymous.
    defaultHeaders: JSON.stringify(defaultHeaders, null, 2),
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
    defaultEditorToolsVisibility: 'headers',
  }),
);
