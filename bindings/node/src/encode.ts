/**
 * Turns a JavaScript value into JSON text for the engine, refusing anything that is not plain
 * JSON instead of silently changing it the way `JSON.stringify` does (dropping `undefined` and
 * functions, writing `NaN` as `null`, calling `toJSON`, reading a polluted prototype).
 *
 * Rules: only own enumerable string keys of plain objects (prototype `Object.prototype` or
 * `null`) and the elements of arrays are read, each exactly once; numbers must be finite;
 * `undefined`, functions, symbols, BigInts, symbol keys, array holes, strings with a lone
 * surrogate and other objects (Date, Map, class instances, ...) are errors; at most 64 levels of nesting (a cycle exceeds it).
 * A key named `__proto__`, `constructor` or `toString` is just a key.
 */

// Captured once, so later changes to the globals cannot change what is encoded.
const objectPrototype = Object.prototype;
const getPrototypeOf = Object.getPrototypeOf;
const ownKeys = Object.keys;
const ownSymbols = Object.getOwnPropertySymbols;
const isArray = Array.isArray;
const hasOwn = Object.prototype.hasOwnProperty;
const isEnumerable = Object.prototype.propertyIsEnumerable;
const quote = JSON.stringify as (value: string) => string;
const isWellFormed = String.prototype.isWellFormed as (this: string) => boolean;
const regexExec = RegExp.prototype.exec;

/**
 * A character `JSON.stringify` would escape (`"`, `\\`, U+0000 to U+001F) or a surrogate (which
 * may be a lone one): a string without any is its own JSON text between quotes, which is much
 * cheaper than `JSON.stringify` of a short string. Called through the captured `exec`, so a
 * changed `RegExp.prototype` cannot change what is encoded.
 */
const needsQuoting = /["\\\u0000-\u001f\ud800-\udfff]/;

/** Nesting limit of actions (POLICY.md §1): the action object itself is level 1. */
export const MAX_DEPTH = 64;

/** Nesting limit of policy documents (POLICY.md §2): the document object is level 1. */
export const MAX_POLICY_DEPTH = 512;

/** The size limit of an action's JSON text (POLICY.md §1), in UTF-8 bytes. */
export const MAX_ACTION_BYTES = 1024 * 1024;

/** Why a value is not JSON, and where. */
export class EncodeError {
  /** Path segments (`.key`, `[0]`, `["a.b"]`), innermost first. */
  private readonly segments: string[] = [];

  /** `whole`: the failure is about the value as a whole (its size), not one part of it. */
  constructor(
    readonly reason: string,
    private readonly whole = false,
  ) {}

  /** Where the offending value is, in the spec's dotted form (`params.items[2]`; `""` for the root). */
  get path(): string {
    const path = this.segments.slice().reverse().join('');
    return path.startsWith('.') ? path.slice(1) : path;
  }

  /** Records that the failure is inside the child `segment` of the current value. */
  within(segment: string): this {
    if (!this.whole) this.segments.push(segment);
    return this;
  }

  /** The message for a reason line: `params.x: undefined is not a JSON value`. */
  describe(root: string): string {
    const path = this.path;
    const where = path === '' ? root : path.startsWith('[') ? root + path : path;
    return `${where}: ${this.reason}`;
  }
}

/**
 * The JSON text of `value`, or an `EncodeError`. `limit` bounds the text's length in UTF-16
 * units: a text longer than that has more UTF-8 bytes than `limit` too, so encoding a huge value
 * stops early. The exact byte limit is the engine's to check.
 */
export function encodeJson(value: unknown, limit = Infinity, maxDepth = MAX_DEPTH): string | EncodeError {
  const encoder = new Encoder(limit, maxDepth);
  try {
    encoder.value(value, 1);
    return encoder.out;
  } catch (error) {
    return asEncodeError(error);
  }
}

/** True when `text` has no lone surrogate (Node-API would replace one with U+FFFD). */
export function wellFormed(text: string): boolean {
  return isWellFormed.call(text);
}

/** A getter or proxy trap that threw means the value cannot be read: that is the reason. */
function asEncodeError(error: unknown): EncodeError {
  return error instanceof EncodeError ? error : new EncodeError('reading the value threw (a getter or proxy)');
}

/**
 * Quoted keys, by key: tool calls repeat the same few keys, and quoting is most of the cost of a
 * small object. Only well-formed short keys are kept, and only so many.
 */
const quotedKeys = new Map<string, string>();
const QUOTED_KEYS_MAX = 4096;
const QUOTED_KEY_LENGTH_MAX = 128;

function quoteKey(key: string): string {
  const cached = quotedKeys.get(key);
  if (cached !== undefined) return cached;
  if (!isWellFormed.call(key)) throw new EncodeError('a key with a lone surrogate is not valid text');
  const quoted = quote(key);
  if (key.length <= QUOTED_KEY_LENGTH_MAX && quotedKeys.size < QUOTED_KEYS_MAX) quotedKeys.set(key, quoted);
  return quoted;
}

const plainSegment = /^[A-Za-z0-9_$-]+$/;

function keySegment(key: string): string {
  return regexExec.call(plainSegment, key) !== null ? `.${key}` : `[${quote(key)}]`;
}

function describeObject(value: object): string {
  const prototype = getPrototypeOf(value);
  const constructor = prototype !== null && hasOwn.call(prototype, 'constructor') ? prototype.constructor : undefined;
  const name = typeof constructor === 'function' && typeof constructor.name === 'string' ? constructor.name : '';
  return name === '' ? 'an object with a custom prototype' : `a ${name}`;
}

class Encoder {
  out = '';

  constructor(
    private readonly limit: number,
    private readonly maxDepth: number,
  ) {}

  value(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'string':
        if (regexExec.call(needsQuoting, value) === null) {
          this.out += '"' + value + '"';
        } else {
          if (!isWellFormed.call(value)) throw new EncodeError('a string with a lone surrogate is not valid text');
          this.out += quote(value);
        }
        break;
      case 'number':
        if (value !== value || value === Infinity || value === -Infinity) {
          throw new EncodeError(`${value} is not a finite number`);
        }
        this.out += '' + value;
        break;
      case 'boolean':
        this.out += value ? 'true' : 'false';
        break;
      case 'object':
        if (value === null) this.out += 'null';
        else if (isArray(value)) this.array(value, depth);
        else this.object(value, depth);
        break;
      case 'undefined':
        throw new EncodeError('undefined is not a JSON value (omit the key or use null)');
      case 'bigint':
        throw new EncodeError('a BigInt is not a JSON value');
      case 'function':
        throw new EncodeError('a function is not a JSON value');
      default:
        throw new EncodeError(`a ${typeof value} is not a JSON value`);
    }
    if (this.out.length > this.limit) throw new EncodeError(`its JSON text is larger than ${this.limit} bytes`, true);
  }

  private array(array: readonly unknown[], depth: number): void {
    if (depth > this.maxDepth) throw new EncodeError(`nested deeper than ${this.maxDepth} levels (or a cycle)`);
    const length = array.length;
    let index = 0;
    try {
      this.out += '[';
      for (; index < length; index++) {
        if (index > 0) this.out += ',';
        if (!hasOwn.call(array, index)) throw new EncodeError('an array hole is not a JSON value');
        this.value(array[index], depth + 1);
      }
      this.out += ']';
    } catch (error) {
      throw asEncodeError(error).within(`[${index}]`);
    }
  }

  private object(object: object, depth: number): void {
    if (depth > this.maxDepth) throw new EncodeError(`nested deeper than ${this.maxDepth} levels (or a cycle)`);
    const prototype = getPrototypeOf(object);
    if (prototype !== objectPrototype && prototype !== null) {
      throw new EncodeError(`${describeObject(object)} is not a JSON value (only plain objects and arrays are)`);
    }
    const symbols = ownSymbols(object);
    for (let i = 0; i < symbols.length; i++) {
      if (isEnumerable.call(object, symbols[i])) throw new EncodeError('a symbol key is not valid in JSON');
    }
    const keys = ownKeys(object);
    let key = '';
    try {
      this.out += '{';
      for (let i = 0; i < keys.length; i++) {
        key = keys[i];
        if (i > 0) this.out += ',';
        this.out += quoteKey(key);
        this.out += ':';
        this.value((object as Record<string, unknown>)[key], depth + 1);
      }
      this.out += '}';
    } catch (error) {
      throw asEncodeError(error).within(keySegment(key));
    }
  }
}
