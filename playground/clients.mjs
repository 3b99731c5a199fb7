// What standard GraphQL tools do against the server, driven from the Rust test suite.
//   node clients.mjs audit URL TOKEN
//     runs graphql-http's serverAudits (the GraphQL-over-HTTP conformance suite) and prints
//     every result as JSON: [{id, name, status, reason?}].
//   node clients.mjs introspect URL TOKEN SCHEMA_FILE
//     sends graphql-js's full introspection query (every option on), builds a client schema
//     from the answer and compares its types, fields and arguments with SCHEMA_FILE (SDL).
//     Prints {types, differences: [...]} as JSON.
import { serverAudits } from "graphql-http";
import { buildClientSchema, buildSchema, getIntrospectionQuery, isObjectType, isInterfaceType, isInputObjectType, isEnumType, isUnionType } from "graphql";
import { readFileSync } from "node:fs";

const [command, url, token, schemaFile] = process.argv.slice(2);

function withToken(input, init = {}) {
  const headers = new Headers(init.headers || {});
  headers.set("authorization", `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

async function audit() {
  const results = [];
  for (const a of serverAudits({ url, fetchFn: withToken })) {
    const r = await a.fn();
    results.push({ id: r.id, name: r.name, status: r.status, reason: r.reason });
  }
  return results;
}

// One line per type, field and argument, so two schemas compare as two sets of lines.
function shape(schema) {
  const lines = new Set();
  for (const [name, type] of Object.entries(schema.getTypeMap())) {
    if (name.startsWith("__")) continue;
    lines.add(`type ${name}: ${type.constructor.name}`);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const i of type.getInterfaces()) lines.add(`${name} implements ${i.name}`);
      for (const f of Object.values(type.getFields())) {
        lines.add(`${name}.${f.name}: ${f.type}`);
        for (const a of f.args) lines.add(`${name}.${f.name}(${a.name}: ${a.type})`);
      }
    } else if (isInputObjectType(type)) {
      for (const f of Object.values(type.getFields())) lines.add(`${name}.${f.name}: ${f.type}`);
    } else if (isEnumType(type)) {
      for (const v of type.getValues()) lines.add(`${name}.${v.name}`);
    } else if (isUnionType(type)) {
      for (const t of type.getTypes()) lines.add(`${name} | ${t.name}`);
    }
  }
  return lines;
}

async function introspect() {
  const query = getIntrospectionQuery({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
    inputValueDeprecation: true,
    oneOf: true,
  });
  const resp = await withToken(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json" },
    body: JSON.stringify({ query, operationName: "IntrospectionQuery" }),
  });
  const body = await resp.json();
  if (body.errors) return { status: resp.status, errors: body.errors };
  const client = shape(buildClientSchema(body.data));
  const sdl = shape(buildSchema(readFileSync(schemaFile, "utf8")));
  const differences = [
    ...[...sdl].filter((l) => !client.has(l)).map((l) => `missing from introspection: ${l}`),
    ...[...client].filter((l) => !sdl.has(l)).map((l) => `missing from ${schemaFile}: ${l}`),
  ];
  return { status: resp.status, lines: client.size, differences };
}

const run = { audit, introspect }[command];
if (!run) {
  console.error("usage: node clients.mjs audit|introspect URL TOKEN [SCHEMA_FILE]");
  process.exit(2);
}
console.log(JSON.stringify(await run()));
