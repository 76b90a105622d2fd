#!/usr/bin/env node
// The `switchyard` command: a thin launcher for the compiled CLI (src/cli/main.ts).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
