#!/usr/bin/env node
// npm create faultline-driver@latest <name>  (npm exec create-faultline-driver <name>)
import { main } from "../dist/cli.js";

process.exitCode = main(process.argv.slice(2), {
  cwd: process.cwd(),
  userAgent: process.env.npm_config_user_agent,
});
