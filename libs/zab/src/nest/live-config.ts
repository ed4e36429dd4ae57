/**
 * Typed live configuration stored in znodes: `ZabModule.forFeature({ configs: [...] })` provides
 * one `LiveConfig<T>` per definition, injected with `@InjectLiveConfig(definition)`.
 *
 * - The node holds JSON (or anything the definition's `parse` reads). A value is validated by
 *   the definition's `schema` (any object with `parse(input): T`, e.g. a zod schema) or
 *   `parse(data: Buffer): T`. An update that fails validation is logged and skipped: the
 *   last good value stays, so a bad write by an operator never reaches the app.
 * - The provider waits for the first value, so `value` is ready when the app starts: the
 *   node's current value, or `defaultValue` while the node is missing. With neither (no node,
 *   no default) the start fails with a message naming the path to create.
 * - `value$` emits the current value, then every valid update, on every instance.
 * - `set(value)` validates first (an invalid value is rejected, nothing is written), then
 *   writes it as JSON (creating the node and its parents if missing).
 */
import { Inject, Logger } from '@nestjs/common';
import { BehaviorSubject, type Observable, type Subscription } from 'rxjs';
import type { CoordinationClient } from '../node/coordination-client.js';
import { ErrorCode } from '../state/error-code.js';
import { KeeperError } from '../state/keeper-error.js';
import { ensurePath } from '../recipes/recipe-support.js';
import type { CoordinationService } from './coordination.service.js';

/** Anything with zod's `parse` shape: returns the typed value or throws. */
export interface ConfigSchema<T> {
  parse(input: unknown): T;
}

export interface LiveConfigDefinition<T> {
  /** The znode holding the value. */
  path: string;
  /** Validates the JSON held by the node (e.g. a zod schema). */
  schema?: ConfigSchema<T>;
  /** Reads the node's bytes itself (instead of JSON + `schema`). */
  parse?: (data: Buffer) => T;
  /** Used while the node does not exist. */
  defaultValue?: T;
  /** Injection token; default: a symbol made by `defineLiveConfig`. */
  token?: string | symbol;
}

/**
 * Checks a definition and gives it its injection token:
 * `const payments = defineLiveConfig({ path: '/config/payments', schema: PaymentsSchema })`.
 */
export function defineLiveConfig<T>(definition: LiveConfigDefinition<T>): LiveConfigDefinition<T> & { token: string | symbol } {
  if (typeof definition?.path !== 'string' || !definition.path.startsWith('/')) {
    throw new Error(`defineLiveConfig: path must be an absolute znode path like "/config/payments"; got ${JSON.stringify(definition?.path)}`);
  }
  if (definition.schema !== undefined && definition.parse !== undefined) {
    throw new Error(`defineLiveConfig(${definition.path}): give either schema or parse, not both`);
  }
  return { ...definition, token: definition.token ?? Symbol(`LiveConfig ${definition.path}`) };
}

export function liveConfigToken(definition: LiveConfigDefinition<unknown>): string | symbol {
  if (definition.token === undefined) {
    throw new Error(`live config ${definition.path}: make the definition with defineLiveConfig (it gives the injection token)`);
  }
  return definition.token;
}

/** Injects the `LiveConfig` of a definition registered with `ZabModule.forFeature`. */
export function InjectLiveConfig(definition: LiveConfigDefinition<unknown>): PropertyDecorator & ParameterDecorator {
  return Inject(liveConfigToken(definition));
}

export class LiveConfig<T> {
  private readonly logger: Logger;
  private readonly subject: BehaviorSubject<T>;
  private unobserve: (() => void) | undefined;

  private constructor(
    private readonly client: CoordinationClient,
    readonly definition: LiveConfigDefinition<T>,
    initial: T,
  ) {
    this.logger = new Logger(`LiveConfig ${definition.path}`);
    this.subject = new BehaviorSubject(initial);
  }

  /** Opens the config: resolves once the first value (the node's, or the default) is known. */
  static async open<T>(source: CoordinationService | CoordinationClient, definition: LiveConfigDefinition<T>): Promise<LiveConfig<T>> {
    const client = 'coordinationClient' in source ? source.coordinationClient() : source;
    let config: LiveConfig<T> | undefined;
    let first: { value: T } | { error: Error } | undefined;
    const unobserve = await client.observe(definition.path, 'data', (observation) => {
      if (observation.kind !== 'data') return;
      const node = observation.value;
      if (config === undefined) {
        first = LiveConfig.initial(definition, node === null ? undefined : node.data, node?.stat.version);
        return;
      }
      config.update(node === null ? undefined : node.data, node?.stat.version);
    });
    // `observe` reports the current value before it resolves.
    if (first === undefined || 'error' in first) {
      unobserve();
      throw first?.error ?? new Error(`live config ${definition.path}: no first value`);
    }
    config = new LiveConfig(client, definition, first.value);
    config.unobserve = unobserve;
    return config;
  }

  /** The newest valid value. */
  get value(): T {
    return this.subject.value;
  }

  /** The current value, then every valid update. */
  get value$(): Observable<T> {
    return this.subject.asObservable();
  }

  /** Calls `listener` on every valid update (not with the current value). Returns a Subscription. */
  onChange(listener: (value: T) => void): Subscription {
    let first = true;
    return this.subject.subscribe((value) => {
      if (first) {
        first = false;
        return;
      }
      listener(value);
    });
  }

  /**
   * Validates `value` and writes it as JSON; with `version`, only if the node still has it
   * (`BadVersionError` otherwise). Rejects an invalid value without writing.
   */
  async set(value: T, options: { version?: number } = {}): Promise<void> {
    const data = Buffer.from(JSON.stringify(value));
    LiveConfig.validate(this.definition, data); // throws: nothing is written
    try {
      await this.client.setData(this.definition.path, data, options.version ?? -1);
    } catch (error) {
      if (!(error instanceof KeeperError) || error.code !== ErrorCode.NoNode || options.version !== undefined) throw error;
      const parent = this.definition.path.slice(0, this.definition.path.lastIndexOf('/'));
      if (parent.length > 0) await ensurePath(this.client, parent, 'persistent');
      await this.client.create(this.definition.path, data).catch(async (createError: unknown) => {
        if (!(createError instanceof KeeperError) || createError.code !== ErrorCode.NodeExists) throw createError;
        await this.client.setData(this.definition.path, data, -1);
      });
    }
  }

  /** Nest calls it at shutdown. */
  onModuleDestroy(): void {
    this.close();
  }

  /** Stops following the node; `value$` completes. */
  close(): void {
    this.unobserve?.();
    this.unobserve = undefined;
    this.subject.complete();
  }

  private update(data: Buffer | undefined, version: number | undefined): void {
    if (data === undefined) {
      if (this.definition.defaultValue !== undefined) this.subject.next(this.definition.defaultValue);
      else this.logger.warn(`deleted; keeping the last good value`);
      return;
    }
    try {
      this.subject.next(LiveConfig.validate(this.definition, data));
    } catch (error) {
      this.logger.warn(`version ${version ?? '?'} rejected: ${(error as Error).message}; keeping the last good value`);
    }
  }

  private static initial<T>(definition: LiveConfigDefinition<T>, data: Buffer | undefined, version: number | undefined):
    { value: T } | { error: Error } {
    if (data === undefined) {
      if (definition.defaultValue !== undefined) return { value: definition.defaultValue };
      return { error: new Error(`live config ${definition.path}: the node does not exist and no defaultValue is set; ` +
        `create ${definition.path} (e.g. with LiveConfig.set or zkCli) or give a defaultValue`) };
    }
    try {
      return { value: LiveConfig.validate(definition, data) };
    } catch (error) {
      if (definition.defaultValue !== undefined) {
        new Logger(`LiveConfig ${definition.path}`).warn(
          `version ${version ?? '?'} rejected: ${(error as Error).message}; starting with the default value`);
        return { value: definition.defaultValue };
      }
      return { error: new Error(`live config ${definition.path} version ${version ?? '?'} is invalid and there is no defaultValue: ${(error as Error).message}`) };
    }
  }

  private static validate<T>(definition: LiveConfigDefinition<T>, data: Buffer): T {
    if (definition.parse !== undefined) return definition.parse(data);
    let json: unknown;
    try {
      json = JSON.parse(data.toString('utf8'));
    } catch (error) {
      throw new Error(`not JSON: ${(error as Error).message}`);
    }
    return definition.schema === undefined ? (json as T) : definition.schema.parse(json);
  }
}

/**
 * Mirrors a live config into `@nestjs/config`'s `ConfigService` (anything with `set(key,
 * value)`): `configService.get(key)` then returns the newest valid value. Returns the
 * subscription; unsubscribe to stop.
 */
export function bridgeToConfigService<T>(
  config: LiveConfig<T>,
  configService: { set(key: string, value: unknown): void },
  key: string,
): Subscription {
  return config.value$.subscribe((value) => configService.set(key, value));
}
