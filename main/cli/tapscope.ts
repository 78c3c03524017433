import { runAnalyze, ANALYZE_USAGE } from './analyze.js';
import { UsageError } from './args.js';
import { rerunWithSmallYoungGeneration } from './small-young-generation.js';
import { runServe, SERVE_USAGE } from './serve.js';
import { runFlows, FLOWS_USAGE } from './flows.js';
import { runPackets, PACKETS_USAGE } from './packets.js';
import { runCaptureCli, runListenCli, runInterfacesCli, CAPTURE_USAGE, LISTEN_USAGE, INTERFACES_USAGE } from './capture.js';

type Command = (argv: string[]) => number | Promise<number>;

/** Subcommands. Each lives in its own module; add one here. */
const COMMANDS: Record<string, { run: Command; usage: string }> = {
  analyze: { run: (a) => runAnalyze(a, process.stdout, process.stderr), usage: ANALYZE_USAGE },
  serve: { run: (a) => runServe(a), usage: SERVE_USAGE },
  capture: { run: (a) => runCaptureCli(a, { out: process.stdout, err: process.stderr }), usage: CAPTURE_USAGE },
  listen: { run: (a) => runListenCli(a, { out: process.stdout, err: process.stderr }), usage: LISTEN_USAGE },
  interfaces: { run: (a) => runInterfacesCli(a, { out: process.stdout, err: process.stderr }), usage: INTERFACES_USAGE },
  flows: { run: (a) => runFlows(a, process.stdout, process.stderr), usage: FLOWS_USAGE },
  packets: { run: (a) => runPackets(a, process.stdout, process.stderr), usage: PACKETS_USAGE },
};

function usage(): string {
  return `Tapscope ${'\u2014'} network troubleshooting from packet captures\n\n${Object.values(COMMANDS).map((c) => c.usage).join('\n\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 1;
  }
  const cmd = COMMANDS[name];
  const rerun = rerunWithSmallYoungGeneration(argv, process.argv[1]);
  if (rerun !== null) return rerun;
  if (!cmd) {
    process.stderr.write(`tapscope: unknown command "${name}"\n\n${usage()}`);
    return 1;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError || (e instanceof Error && e.message.startsWith('bad --'))) {
      process.stderr.write(`tapscope ${name}: ${e.message}\n\n${cmd.usage}\n`);
      return 1;
    }
    process.stderr.write(`tapscope ${name}: ${(e as Error).stack ?? e}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Let stdout drain (large JSON to a pipe) before exiting.
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`tapscope: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  },
);
