import { Module } from '@nestjs/common';
import { ZabModule } from 'nestjs-zab';
import { DemoService } from './demo.service.js';

@Module({
  imports: [ZabModule.forRoot({ dataDir: process.env.ZAB_DEMO_DATA_DIR ?? './.zab/demo' })],
  providers: [DemoService],
})
export class DemoModule {}
