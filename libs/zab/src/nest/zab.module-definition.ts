import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ZabModuleExtras, ZabModuleOptions } from './zab-module-options.interface.js';

export const {
  ConfigurableModuleClass: ZabConfigurableModule,
  MODULE_OPTIONS_TOKEN: ZAB_MODULE_OPTIONS,
  OPTIONS_TYPE: ZAB_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: ZAB_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ZabModuleOptions>({ moduleName: 'Zab' })
  .setClassMethodName('forRoot')
  .setExtras<ZabModuleExtras>({ isGlobal: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
