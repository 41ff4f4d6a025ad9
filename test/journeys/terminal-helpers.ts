import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, tempDir } from "../helpers/cli.ts";
import { copyInto } from "../helpers/journey.ts";
import { waitFor } from "../helpers/wait.ts";

/**
 * A real terminal for journey tests: a tmux server of its own (a unique `-L` socket), one
 * 200×50 window running a plain bash, into which commands are typed and keys sent, and whose
 * screen is read back. Each command writes its exit code to a file, so the test reads the code
 * the shell saw.
 */
export class Terminal {
  private readonly socket = `rollgate-term-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private commands = 0;
  private constructor(readonly dir: string) {}

  static start(dir: string): Terminal {
    const t = new Terminal(dir);
    t.tmux("new-session", "-d", "-x", "200", "-y", "50", "-c", dir, "bash --norc --noprofile");
    t.tmux("set-option", "-g", "history-limit", "10000");
    return t;
  }

  private tmux(...args: string[]): string {
    return execFileSync("tmux", ["-L", this.socket, ...args], { encoding: "utf8" });
  }

  /**
   * Types `rollgate ARGS` and Enter; returns a function that waits for its exit code. CI is unset
   * so that the CLI draws its live task tree as it does for an operator.
   */
  rollgate(args: string, what = `rollgate ${args}`): { exitCode: (timeoutMs: number) => Promise<number> } {
    const n = ++this.commands;
    const codeFile = join(this.dir, `exit-${n}`);
    // the command's output starts after a mark its typed line does not contain (screen())
    this.tmux(
      "send-keys",
      "-l",
      `clear; printf '== %s ==\\n' command-${n}; env -u CI NO_COLOR=1 ${process.execPath} ${BIN} ${args}; echo $? > ${codeFile}`,
    );
    this.tmux("send-keys", "Enter");
    return {
      exitCode: async (timeoutMs) =>
        Number(
          await waitFor(
            () => (existsSync(codeFile) ? readFileSync(codeFile, "utf8").trim() || undefined : undefined),
            { timeoutMs, what: `${what} to exit; the screen:\n${this.screen()}` },
          ),
        ),
    };
  }

  /**
   * The pid of the program the terminal's shell runs now (the command typed: `env` execs node,
   * so it is rollgate's own process), read from /proc: the shell's one child.
   */
  commandPid(): number | undefined {
    const shell = this.tmux("display-message", "-p", "#{pane_pid}").trim();
    const children = readFileSync(`/proc/${shell}/task/${shell}/children`, "utf8").trim().split(/\s+/);
    return children.length === 1 && children[0] ? Number(children[0]) : undefined;
  }

  /** Whether the terminal shows its cursor (a program that hid it and died leaves it hidden). */
  cursorVisible(): boolean {
    return this.tmux("display-message", "-p", "#{cursor_flag}").trim() === "1";
  }

  /**
   * The terminal's line discipline as the next command finds it (`stty -a`, run by the shell
   * once the last command has exited): a program that left raw mode on leaves `-icanon -echo`.
   */
  async stty(timeoutMs: number): Promise<string> {
    const out = join(this.dir, `stty-${this.commands}`);
    this.tmux("send-keys", "-l", `stty -a > ${out}.tmp && mv ${out}.tmp ${out}`);
    this.tmux("send-keys", "Enter");
    return waitFor(() => (existsSync(out) ? readFileSync(out, "utf8") || undefined : undefined), {
      timeoutMs,
      what: "stty -a",
    });
  }

  /** Sends keys as tmux names them (`C-c`, `Enter`) or, with literal, as text. */
  keys(keys: string, literal = false): void {
    if (literal) this.tmux("send-keys", "-l", keys);
    else this.tmux("send-keys", keys);
  }

  /** What the last command wrote on the terminal (with its scrollback, wrapped lines joined). */
  screen(): string {
    const all = this.tmux("capture-pane", "-p", "-J", "-S", "-");
    const mark = `== command-${this.commands} ==\n`;
    const at = all.lastIndexOf(mark);
    return at < 0 ? all : all.slice(at + mark.length);
  }

  /** Waits until the screen shows `re`; returns the match. */
  waitForScreen(re: RegExp, timeoutMs: number, what = String(re)): Promise<RegExpMatchArray> {
    return waitFor(() => this.screen().match(re) ?? undefined, {
      timeoutMs,
      what: `${what} on the screen`,
    }).catch((e: Error) => {
      throw new Error(`${e.message}\n--- screen ---\n${this.screen()}`);
    });
  }

  kill(): void {
    try {
      this.tmux("kill-server");
    } catch {
      // already gone
    }
  }
}

/** A copy of an example fleet file in a fresh folder (the lab's files and the state go beside it). */
export function exampleFleet(name: string): { dir: string; fleet: string } {
  const dir = tempDir("rollgate-journey-term-");
  return { dir, fleet: copyInto(dir, `examples/${name}`) };
}

export { readLabJournal as labJournal } from "../helpers/journey.ts";
