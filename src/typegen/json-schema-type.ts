/**
 * Pure: a payload's JSON Schema → a TypeScript type expression. It covers
 * what payload schemas use — `type` (one or several), `enum`, `const`,
 * `properties` / `required` / `additionalProperties`, `items` and tuples
 * (`prefixItems`, or `items` as an array), `anyOf` / `oneOf` (a union),
 * `allOf` (an intersection), local `$ref`s into `$defs` / `definitions`,
 * `description` as doc comments — and widens anything else to what the
 * schema certainly allows (`unknown` at worst), never narrower: a value the
 * schema accepts always type-checks. Value constraints (lengths, ranges,
 * patterns, formats) have no type and are checked at run time.
 */

type Schema = boolean | Record<string, unknown>;

export interface TypeWriterOptions {
  /** Indentation of the first line's nested members. @defaultValue '' */
  indent?: string;
}

export function jsonSchemaToType(schema: unknown, options: TypeWriterOptions = {}): string {
  const root = isSchema(schema) ? schema : true;
  return new TypeWriter(root).write(root, options.indent ?? '', new Set());
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

class TypeWriter {
  constructor(private readonly root: Schema) {}

  write(schema: Schema, indent: string, refs: Set<string>): string {
    if (schema === true) return 'unknown';
    if (schema === false) return 'never';
    const parts: string[] = [];
    if (typeof schema.$ref === 'string') parts.push(this.ref(schema.$ref, indent, refs));
    const own = this.ownType(schema, indent, refs);
    if (own !== undefined) parts.push(own);
    const anyOf = (schema.anyOf ?? schema.oneOf) as unknown;
    if (Array.isArray(anyOf) && anyOf.length > 0) parts.push(union(anyOf.map((member) => this.write(asSchema(member), indent, refs))));
    if (Array.isArray(schema.allOf)) for (const member of schema.allOf) parts.push(this.write(asSchema(member), indent, refs));
    // Every part holds at once: an intersection, where `unknown` adds nothing.
    const meaningful = parts.filter((part) => part !== 'unknown');
    if (meaningful.length === 0) return 'unknown';
    return meaningful.length === 1 ? (meaningful[0] ?? 'unknown') : meaningful.map(paren).join(' & ');
  }

  /** The type from `const`, `enum`, or `type` (and the keywords that imply one). */
  private ownType(schema: Record<string, unknown>, indent: string, refs: Set<string>): string | undefined {
    if ('const' in schema) return literal(schema.const);
    if (Array.isArray(schema.enum)) return schema.enum.length === 0 ? 'never' : union(schema.enum.map(literal));
    const types = typesOf(schema);
    if (types === undefined) return undefined;
    return union(types.map((type) => this.typeOf(type, schema, indent, refs)));
  }

  private typeOf(type: string, schema: Record<string, unknown>, indent: string, refs: Set<string>): string {
    switch (type) {
      case 'string':
        return 'string';
      case 'number':
      case 'integer':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'null':
        return 'null';
      case 'array':
        return this.array(schema, indent, refs);
      case 'object':
        return this.object(schema, indent, refs);
      default:
        return 'unknown';
    }
  }

  private array(schema: Record<string, unknown>, indent: string, refs: Set<string>): string {
    const tuple = Array.isArray(schema.prefixItems) ? schema.prefixItems : Array.isArray(schema.items) ? schema.items : undefined;
    if (tuple !== undefined) {
      const rest = Array.isArray(schema.items) ? schema.additionalItems : schema.items;
      const minItems = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const members = tuple.map((member, index) => `${this.write(asSchema(member), indent, refs)}${index < minItems ? '' : '?'}`);
      if (rest !== false) members.push(`...${paren(this.write(rest === undefined ? true : asSchema(rest), indent, refs))}[]`);
      return `[${members.join(', ')}]`;
    }
    const items = schema.items === undefined ? true : asSchema(schema.items);
    return `${paren(this.write(items, indent, refs))}[]`;
  }

  private object(schema: Record<string, unknown>, indent: string, refs: Set<string>): string {
    const properties = isRecord(schema.properties) ? schema.properties : {};
    const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === 'string') : []);
    const inner = `${indent}  `;
    const lines: string[] = [];
    for (const [name, property] of Object.entries(properties)) {
      const propertySchema = asSchema(property);
      const doc = typeof propertySchema === 'object' ? docComment(propertySchema.description, inner) : '';
      lines.push(`${doc}${inner}${propertyKey(name)}${required.has(name) ? '' : '?'}: ${this.write(propertySchema, inner, refs)};`);
    }
    // Required names the properties do not describe still must be there.
    for (const name of required) {
      if (!(name in properties)) lines.push(`${inner}${propertyKey(name)}: unknown;`);
    }
    const extra = schema.additionalProperties;
    const closed = extra === false && !isRecord(schema.patternProperties);
    if (!closed) {
      // An index signature must admit every declared property's type, so a
      // typed `additionalProperties` only narrows an object without others.
      const value = lines.length === 0 && isRecord(extra) ? this.write(extra, inner, refs) : 'unknown';
      lines.push(`${inner}[key: string]: ${value};`);
    }
    if (lines.length === 0) return 'Record<string, never>';
    return `{\n${lines.join('\n')}\n${indent}}`;
  }

  /** A local `$ref` (`#/$defs/x`, `#/definitions/x`, `#`), written inline; a cycle becomes `unknown`. */
  private ref(ref: string, indent: string, refs: Set<string>): string {
    if (refs.has(ref)) return 'unknown';
    const target = resolvePointer(this.root, ref);
    if (target === undefined) return 'unknown';
    return this.write(target, indent, new Set([...refs, ref]));
  }
}

function typesOf(schema: Record<string, unknown>): string[] | undefined {
  if (typeof schema.type === 'string') return [schema.type];
  if (Array.isArray(schema.type)) return schema.type.filter((t): t is string => typeof t === 'string');
  if ('properties' in schema || 'additionalProperties' in schema || 'required' in schema) return ['object'];
  if ('items' in schema || 'prefixItems' in schema) return ['array'];
  return undefined;
}

function resolvePointer(root: Schema, ref: string): Schema | undefined {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').filter((part) => part !== '')) {
    const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isRecord(node)) return undefined;
    node = node[part];
  }
  return isSchema(node) ? node : undefined;
}

/** A string as a single-quoted TypeScript literal. */
export function stringLiteral(text: string): string {
  return `'${JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}

/** A property name as written in a type: bare when it is an identifier. */
export function propertyKey(name: string): string {
  return IDENTIFIER.test(name) ? name : stringLiteral(name);
}

function literal(value: unknown): string {
  if (typeof value === 'string') return stringLiteral(value);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  // An object or array constant: its shape, not its exact value.
  return Array.isArray(value) ? 'unknown[]' : 'Record<string, unknown>';
}

function union(types: string[]): string {
  const unique = [...new Set(types)];
  if (unique.includes('unknown')) return 'unknown';
  return unique.length === 0 ? 'never' : unique.join(' | ');
}

/** Wraps a union or intersection in parentheses (for `T[]`, `A & B`); leaves anything else as is. */
function paren(type: string): string {
  let depth = 0;
  let quoted: string | false = false;
  for (let i = 0; i < type.length; i++) {
    const c = type[i];
    if (c === '/' && type[i + 1] === '*' && !quoted) {
      // Doc comments may hold any character: skip to their end.
      const end = type.indexOf('*/', i + 2);
      i = end === -1 ? type.length : end + 1;
    } else if (quoted) {
      if (c === '\\') i++;
      else if (c === quoted) quoted = false;
    } else if (c === '"' || c === "'") quoted = c;
    else if (c === '{' || c === '[' || c === '(' || c === '<') depth++;
    else if (c === '}' || c === ']' || c === ')' || c === '>') depth--;
    else if (depth === 0 && (c === '|' || c === '&')) return `(${type})`;
  }
  return type;
}

export function docComment(text: unknown, indent: string): string {
  if (typeof text !== 'string' || text.trim() === '') return '';
  const lines = text.trim().replace(/\*\//g, '*\\/').split('\n');
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((line) => `${indent} * ${line}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'boolean' || isRecord(value);
}

function asSchema(value: unknown): Schema {
  return isSchema(value) ? value : true;
}
