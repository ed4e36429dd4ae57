/**
 * Goal: typed live configuration through `ZabModule.forFeature({ configs })`: the app starts
 * with the node's value (or the default), every valid update reaches the injected
 * `LiveConfig`, an update the schema (zod here) rejects is logged and skipped with the last
 * good value kept, `set` refuses an invalid value without writing, a missing node without a
 * default fails the start naming the path, and the `@nestjs/config` bridge mirrors the value.
 * Method: real Nest apps through @nestjs/testing on an in-memory embedded replica; waits are
 * on `value$` emissions with bounded timeouts.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Injectable } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { filter, firstValueFrom } from 'rxjs';
import { z } from 'zod';
import {
  CoordinationService,
  InjectLiveConfig,
  LiveConfig,
  ZabModule,
  bridgeToConfigService,
  defineLiveConfig,
} from '../libs/zab/src/index.js';
import { withTimeout } from '../libs/zab/src/testing/with-timeout.js';

const Payments = z.object({ currency: z.string().length(3), retries: z.number().int().min(0) });
type Payments = z.infer<typeof Payments>;
const payments = defineLiveConfig<Payments>({
  path: '/config/payments',
  schema: Payments,
  defaultValue: { currency: 'EUR', retries: 1 },
});

@Injectable()
class PaymentsService {
  constructor(@InjectLiveConfig(payments) readonly config: LiveConfig<Payments>) {}
}

function nextValue<T>(config: LiveConfig<T>, check: (value: T) => boolean, what: string): Promise<T> {
  return withTimeout(firstValueFrom(config.value$.pipe(filter(check))), 5_000, what);
}

test('default first, valid updates applied, invalid ones skipped, set validates', async () => {
  const warnings: string[] = [];
  const moduleRef = await Test.createTestingModule({
    imports: [ZabModule.forRoot({ dataDir: ':memory:', isolation: 'main' }), ZabModule.forFeature({ configs: [payments] })],
    providers: [PaymentsService],
  }).setLogger({ log() {}, warn: (message: unknown) => warnings.push(String(message)), error() {} }).compile();
  await moduleRef.init();
  try {
    const { config } = moduleRef.get(PaymentsService);
    const coordination = moduleRef.get(CoordinationService);
    assert.deepEqual(config.value, { currency: 'EUR', retries: 1 }, 'the default while the node is missing');

    await config.set({ currency: 'USD', retries: 3 });
    assert.deepEqual(await nextValue(config, (v) => v.currency === 'USD', 'the USD value'), { currency: 'USD', retries: 3 });

    await coordination.set('/config/payments', '{"currency":"USD","retries":-5}');
    await coordination.set('/config/payments', 'not json at all');
    await coordination.set('/config/payments', '{"currency":"GBP","retries":2}');
    assert.deepEqual(await nextValue(config, (v) => v.currency === 'GBP', 'the GBP value'), { currency: 'GBP', retries: 2 });
    assert.equal(warnings.filter((w) => w.includes('rejected') && w.includes('keeping the last good value')).length, 2,
      warnings.join('\n'));

    const seen: Payments[] = [];
    const subscription = config.value$.subscribe((v) => seen.push(v));
    assert.deepEqual(seen, [{ currency: 'GBP', retries: 2 }], 'value$ starts with the current value');
    await assert.rejects(config.set({ currency: 'EURO', retries: 1 }), /currency|String must|characters/i);
    assert.equal((await coordination.get('/config/payments')).data.toString(), '{"currency":"GBP","retries":2}',
      'an invalid set writes nothing');
    subscription.unsubscribe();
  } finally {
    await moduleRef.close();
  }
});

test('a missing node without a default fails the start, naming the path', async () => {
  const required = defineLiveConfig({ path: '/config/required', schema: Payments });
  await assert.rejects(
    Test.createTestingModule({
      imports: [ZabModule.forRoot({ dataDir: ':memory:', isolation: 'main' }), ZabModule.forFeature({ configs: [required] })],
    }).setLogger({ log() {}, warn() {}, error() {} }).compile(),
    /\/config\/required: the node does not exist and no defaultValue is set/);
});

test('the ConfigService bridge mirrors every valid value', async () => {
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot({ ignoreEnvFile: true }), ZabModule.forRoot({ dataDir: ':memory:', isolation: 'main' }),
      ZabModule.forFeature({ configs: [payments] })],
    providers: [PaymentsService],
  }).setLogger({ log() {}, warn() {}, error() {} }).compile();
  await moduleRef.init();
  try {
    const { config } = moduleRef.get(PaymentsService);
    const configService = moduleRef.get(ConfigService);
    const bridge = bridgeToConfigService(config, configService, 'payments');
    assert.deepEqual(configService.get('payments'), { currency: 'EUR', retries: 1 });
    await config.set({ currency: 'CHF', retries: 0 });
    await nextValue(config, (v) => v.currency === 'CHF', 'the CHF value');
    assert.deepEqual(configService.get('payments'), { currency: 'CHF', retries: 0 });
    bridge.unsubscribe();
  } finally {
    await moduleRef.close();
  }
});
