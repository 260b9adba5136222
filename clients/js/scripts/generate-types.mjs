#!/usr/bin/env node
// TypeScript types from the server's AsyncAPI document.
//
//   node scripts/generate-types.mjs http://127.0.0.1:8080/api/asyncapi.json > types/events.d.ts
//   node scripts/generate-types.mjs asyncapi.json > types/events.d.ts
//
// Every component schema becomes an interface (objects) or a type (enums); the
// operations become maps from event name to payload: ClientEvents (what a client
// sends, with its ack), LotRoomEvents and UserRoomEvents (what the server sends).
// The output depends only on the document, so a test can regenerate and compare.
import { readFile } from "node:fs/promises";

const HEADER = `// Generated from the server's AsyncAPI document (GET /api/asyncapi.json)
// by clients/js/scripts/generate-types.mjs. Do not edit: regenerate.
`;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function refName(ref) {
  const match = /^#\/components\/schemas\/(.+)$/.exec(ref);
  if (!match) throw new Error(`unsupported $ref ${ref}`);
  return match[1];
}

function comment(text, indent = "") {
  if (!text) return "";
  const lines = text.trim().split("\n");
  if (lines.length === 1) return `${indent}/** ${lines[0].replaceAll("*/", "*\\/")} */\n`;
  return `${indent}/**\n${lines.map((line) => `${indent} * ${line.replaceAll("*/", "*\\/")}`.trimEnd()).join("\n")}\n${indent} */\n`;
}

function union(types) {
  const unique = [...new Set(types)];
  return unique.length ? unique.join(" | ") : "never";
}

function property(name) {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

/** The TypeScript type of one JSON schema. */
export function typeOf(schema, indent = "") {
  if (schema === true || schema === undefined || Object.keys(schema).length === 0) return "unknown";
  if (schema.$ref) return refName(schema.$ref);
  if ("const" in schema) return JSON.stringify(schema.const);
  if (schema.enum) return union(schema.enum.map((value) => JSON.stringify(value)));
  for (const key of ["anyOf", "oneOf"]) {
    if (schema[key]) return union(schema[key].map((item) => wrap(typeOf(item, indent))));
  }
  if (Array.isArray(schema.type)) {
    return union(schema.type.map((type) => typeOf({ ...schema, type }, indent)));
  }
  switch (schema.type) {
    case "string":
      return "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "null":
      return "null";
    case "array":
      return `${wrap(typeOf(schema.items, indent))}[]`;
    case "object":
      return objectType(schema, indent);
    default:
      return "unknown";
  }
}

function wrap(type) {
  return type.includes(" | ") ? `(${type})` : type;
}

function objectType(schema, indent) {
  const properties = Object.entries(schema.properties || {});
  const extra = schema.additionalProperties;
  if (!properties.length) {
    if (extra && extra !== true) return `{ [key: string]: ${typeOf(extra, indent)} }`;
    return "Record<string, never>";
  }
  return `{\n${members(schema, `${indent}  `)}${indent}}`;
}

function members(schema, indent) {
  const required = new Set(schema.required || []);
  let out = "";
  for (const [name, field] of Object.entries(schema.properties || {})) {
    out += comment(field.description, indent);
    const optional = required.has(name) ? "" : "?";
    out += `${indent}${property(name)}${optional}: ${typeOf(field, indent)};\n`;
  }
  return out;
}

function declaration(name, schema) {
  let out = comment(schema.description);
  if (schema.type === "object" && Object.keys(schema.properties || {}).length) {
    out += `export interface ${name} {\n${members(schema, "  ")}}\n`;
  } else {
    out += `export type ${name} = ${typeOf(schema)};\n`;
  }
  return out;
}

function resolve(doc, ref) {
  return ref
    .slice(2)
    .split("/")
    .reduce((node, part) => {
      if (!node || !(part in node)) throw new Error(`${ref} does not resolve`);
      return node[part];
    }, doc);
}

function eventMaps(doc) {
  const client = [];
  const rooms = { lotRoom: [], userRoom: [] };
  for (const operation of Object.values(doc.operations)) {
    const channel = operation.channel.$ref.split("/").pop();
    for (const { $ref } of operation.messages) {
      const message = resolve(doc, $ref);
      const payload = refName(message.payload.$ref);
      const summary = message.summary || operation.summary;
      if (operation.action === "receive") {
        const acks = operation.reply.messages.map((reply) => refName(resolve(doc, reply.$ref).payload.$ref));
        client.push(`${comment(summary, "  ")}  ${property(message.name)}: { payload: ${payload}; ack: ${union(acks)} };\n`);
      } else {
        if (!(channel in rooms)) throw new Error(`operation on unknown channel ${channel}`);
        rooms[channel].push(`${comment(summary, "  ")}  ${property(message.name)}: ${payload};\n`);
      }
    }
  }
  return (
    "/** What a client sends (each event's payload) and what the server answers (its ack). */\n" +
    `export interface ClientEvents {\n${client.join("")}}\n\n` +
    "/** What the server sends to a lot's room (`lot:{id}`), by event name. */\n" +
    `export interface LotRoomEvents {\n${rooms.lotRoom.join("")}}\n\n` +
    "/** What the server sends to one user (`user:{sub}`), by event name. */\n" +
    `export interface UserRoomEvents {\n${rooms.userRoom.join("")}}\n\n` +
    "/** Every event the server sends, by name. */\n" +
    "export type ServerEvents = LotRoomEvents & UserRoomEvents;\n"
  );
}

/** The whole .d.ts for an AsyncAPI document. */
export function generate(doc) {
  if (!String(doc.asyncapi).startsWith("3.")) throw new Error("expected an AsyncAPI 3 document");
  const schemas = doc.components.schemas;
  const parts = [HEADER, `// ${doc.info.title}, version ${doc.info.version}.\n`];
  for (const name of Object.keys(schemas).sort()) parts.push(`\n${declaration(name, schemas[name])}`);
  parts.push(`\n${eventMaps(doc)}`);
  return parts.join("");
}

async function load(source) {
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`${source}: HTTP ${response.status}`);
    return response.json();
  }
  return JSON.parse(await readFile(source, "utf8"));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const source = process.argv[2];
  if (!source) {
    console.error("usage: generate-types.mjs <asyncapi.json file or URL>");
    process.exit(2);
  }
  process.stdout.write(generate(await load(source)));
}
