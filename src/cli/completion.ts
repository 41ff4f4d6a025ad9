import type { Command, Option } from "commander";
import { commandPath, everyCommand } from "./examples.ts";

/**
 * `rollgate completion bash|zsh|fish`: a completion script made from the commander program tree
 * as it is (commands, subcommands, options, the choices of options and arguments), so it never
 * lists a command that is gone or misses a new one. Each script walks the words typed so far to
 * the command they name, then offers its subcommands (or its arguments' choices) or, after a
 * `-`, its options; after an option with choices, those choices; elsewhere, file names. (zsh ties
 * `path` to $PATH: the scripts name the command typed so far `at`.)
 */
export type Shell = "bash" | "zsh" | "fish";

interface Node {
  path: string;
  description: string;
  subcommands: Array<{ name: string; description: string }>;
  /** Choices of the command's arguments by position (completion's shell first, lab fault's kind third). */
  argChoices: string[][];
  options: Array<{
    flags: string[];
    long?: string;
    short?: string;
    description: string;
    takesValue: boolean;
    choices: string[];
  }>;
}

/**
 * An option that checks its value itself (plan's `--strategy`, so a bad one is a coded error)
 * lists its choices in its description, "auto | rolling | patch": those are its choices here.
 */
function choicesInDescription(o: Option): string[] {
  if (!o.required) return [];
  const m = /^\s*([a-z0-9-]+(?:\s*\|\s*[a-z0-9-]+)+)\s*$/.exec(o.description);
  return m ? m[1]!.split("|").map((c) => c.trim()) : [];
}

function optionsOf(cmd: Command): Node["options"] {
  const visible = (cmd.options as Option[]).filter((o) => !o.hidden);
  return [
    ...visible.map((o) => ({
      flags: [o.long, o.short].filter((f): f is string => Boolean(f)),
      ...(o.long ? { long: o.long } : {}),
      ...(o.short ? { short: o.short } : {}),
      description: o.description,
      takesValue: o.required,
      choices: [...(o.argChoices ?? choicesInDescription(o))],
    })),
    {
      flags: ["--help", "-h"],
      long: "--help",
      short: "-h",
      description: "display help",
      takesValue: false,
      choices: [],
    },
  ];
}

export function completionTree(program: Command): Node[] {
  return everyCommand(program).map((cmd) => ({
    path: commandPath(cmd),
    description: cmd.description(),
    subcommands: cmd.commands.map((c) => ({ name: c.name(), description: c.description() })),
    argChoices: cmd.registeredArguments.map((a) => [...(a.argChoices ?? [])]),
    options: optionsOf(cmd),
  }));
}

/** Single-quoted for a POSIX shell and for fish. */
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const fishQuote = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
/** A help line's first clause, short enough for a completion menu. */
const brief = (s: string) => s.replace(/\s+/g, " ").split(/[;(]/)[0]!.trim().slice(0, 80);

/** The shell function bodies shared by bash and zsh: subcommands, options and choices by path. */
function caseTables(nodes: Node[]): string {
  const table = (name: string, rows: Array<[string, string[]]>) =>
    [
      `_rollgate_${name}() {`,
      '  case "$1" in',
      ...rows
        .filter(([, words]) => words.length > 0)
        .map(([key, words]) => `    ${quote(key)}) echo ${quote(words.join(" "))} ;;`),
      "  esac",
      "}",
    ].join("\n");
  const valueOptions = nodes.flatMap((n) =>
    n.options
      .filter((o) => o.takesValue)
      .flatMap((o) => o.flags.map((f) => [`${n.path}|${f}`, o.choices] as [string, string[]])),
  );
  return [
    table(
      "subs",
      nodes.map((n) => [n.path, n.subcommands.map((s) => s.name)]),
    ),
    // the choices of the command's Nth argument, keyed "path|N" (N from 0)
    table(
      "args",
      nodes.flatMap((n) => n.argChoices.map((c, i) => [`${n.path}|${i}`, c] as [string, string[]])),
    ),
    table(
      "opts",
      nodes.map((n) => [n.path, n.options.flatMap((o) => o.flags)]),
    ),
    // an option that takes a value: its choices, or `-` for any value (a file name)
    [
      "_rollgate_value() {",
      '  case "$1" in',
      ...valueOptions.map(
        ([key, choices]) => `    ${quote(key)}) echo ${quote(choices.length ? choices.join(" ") : "-")} ;;`,
      ),
      "  esac",
      "}",
    ].join("\n"),
    // the command the words typed so far name (the words before the cursor, as arguments)
    [
      "_rollgate_path() {",
      '  local p="" w skip=""',
      '  for w in "$@"; do',
      '    if [ -n "$skip" ]; then skip=""; continue; fi',
      '    case "$w" in',
      '      -*) [ -n "$(_rollgate_value "$p|$w")" ] && skip=1; continue ;;',
      "    esac",
      '    case " $(_rollgate_subs "$p") " in',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a placeholder
      '      *" $w "*) p="${p:+$p }$w" ;;',
      "    esac",
      "  done",
      '  printf "%s" "$p"',
      "}",
    ].join("\n"),
    // how many arguments were typed after the command's name (the words the path walk does not
    // take as subcommands), or `x` after --version or --help (nothing may follow them)
    [
      "_rollgate_npos() {",
      '  local p="" w skip="" n=0',
      '  for w in "$@"; do',
      '    if [ -n "$skip" ]; then skip=""; continue; fi',
      '    case "$w" in',
      "      -*)",
      '        if [ -n "$(_rollgate_value "$p|$w")" ]; then skip=1; continue; fi',
      '        case "$w" in --version|-V|--help|-h) printf x; return ;; esac',
      "        continue ;;",
      "    esac",
      '    case " $(_rollgate_subs "$p") " in',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a placeholder
      '      *" $w "*) p="${p:+$p }$w" ;;',
      "      *) n=$((n + 1)) ;;",
      "    esac",
      "  done",
      '  printf "%s" "$n"',
      "}",
    ].join("\n"),
  ].join("\n\n");
}

function bashScript(nodes: Node[]): string {
  return `# rollgate completion for bash: source <(rollgate completion bash)
# (or save it as /etc/bash_completion.d/rollgate). Made from rollgate's commands as they are.

${caseTables(nodes)}

_rollgate() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" at n values words
  [ "$COMP_CWORD" -gt 1 ] && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  at="$(_rollgate_path "\${COMP_WORDS[@]:1:COMP_CWORD-1}")"
  n="$(_rollgate_npos "\${COMP_WORDS[@]:1:COMP_CWORD-1}")"
  COMPREPLY=()
  [ "$n" = x ] && return 0
  case "$prev" in
    -*)
      values="$(_rollgate_value "$at|$prev")"
      if [ "$values" = "-" ]; then return 0; fi
      if [ -n "$values" ]; then
        COMPREPLY=($(compgen -W "$values" -- "$cur"))
        return 0
      fi
      ;;
  esac
  case "$cur" in
    -*) words="$(_rollgate_opts "$at")" ;;
    *)
      [ "$n" = 0 ] && words="$(_rollgate_subs "$at")"
      [ -n "$words" ] || words="$(_rollgate_args "$at|$n")"
      ;;
  esac
  [ -n "$words" ] && COMPREPLY=($(compgen -W "$words" -- "$cur"))
  return 0
}

complete -o default -F _rollgate rollgate
`;
}

function zshScript(nodes: Node[]): string {
  return `#compdef rollgate
# rollgate completion for zsh: save as _rollgate in a folder of $fpath (rollgate completion zsh >
# ~/.zfunc/_rollgate, with fpath+=(~/.zfunc) before compinit), or source it after compinit.
# Made from rollgate's commands as they are.

${caseTables(nodes)}

_rollgate() {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}" at n values list
  at="$(_rollgate_path "\${(@)words[2,CURRENT-1]}")"
  n="$(_rollgate_npos "\${(@)words[2,CURRENT-1]}")"
  [[ $n == x ]] && return
  if [[ $CURRENT -gt 2 && $prev == -* ]]; then
    values="$(_rollgate_value "$at|$prev")"
    if [[ $values == "-" ]]; then _files; return; fi
    if [[ -n $values ]]; then compadd -- \${=values}; return; fi
  fi
  if [[ $cur == -* ]]; then
    list="$(_rollgate_opts "$at")"
  else
    [[ $n == 0 ]] && list="$(_rollgate_subs "$at")"
    [[ -n $list ]] || list="$(_rollgate_args "$at|$n")"
  fi
  if [[ -n $list ]]; then compadd -- \${=list}; else _files; fi
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _rollgate "$@"
else
  compdef _rollgate rollgate
fi
`;
}

function fishScript(nodes: Node[]): string {
  const lines = [
    "# rollgate completion for fish: rollgate completion fish > ~/.config/fish/completions/rollgate.fish",
    "# Made from rollgate's commands as they are.",
    "",
    "function __rollgate_path",
    "    set -l words (commandline -opc)",
    "    set -e words[1]",
    "    set -l p ''",
    "    set -l skip 0",
    "    for w in $words",
    "        if test $skip = 1",
    "            set skip 0",
    "            continue",
    "        end",
    "        if string match -q -- '-*' $w",
    '            if contains -- "$p|$w" $__rollgate_value_options',
    "                set skip 1",
    "            end",
    "            continue",
    "        end",
    '        set -l q (string trim -- "$p $w")',
    "        if contains -- $q $__rollgate_paths",
    "            set p $q",
    "        end",
    "    end",
    "    echo $p",
    "end",
    "",
    "function __rollgate_npos",
    "    set -l words (commandline -opc)",
    "    set -e words[1]",
    "    set -l p ''",
    "    set -l n 0",
    "    set -l skip 0",
    "    for w in $words",
    "        if test $skip = 1",
    "            set skip 0",
    "            continue",
    "        end",
    "        if string match -q -- '-*' $w",
    '            if contains -- "$p|$w" $__rollgate_value_options',
    "                set skip 1",
    "            else if contains -- $w --version -V --help -h",
    "                echo x",
    "                return",
    "            end",
    "            continue",
    "        end",
    '        set -l q (string trim -- "$p $w")',
    "        if contains -- $q $__rollgate_paths",
    "            set p $q",
    "        else",
    "            set n (math $n + 1)",
    "        end",
    "    end",
    "    echo $n",
    "end",
    "",
    "function __rollgate_at",
    "    set -l p (__rollgate_path)",
    '    test "$p" = "$argv[1]"',
    "end",
    "",
    `set -g __rollgate_paths ${nodes
      .filter((n) => n.path)
      .map((n) => fishQuote(n.path))
      .join(" ")}`,
    `set -g __rollgate_value_options ${nodes
      .flatMap((n) =>
        n.options.filter((o) => o.takesValue).flatMap((o) => o.flags.map((f) => fishQuote(`${n.path}|${f}`))),
      )
      .join(" ")}`,
    "",
    "complete -c rollgate -e",
  ];
  for (const n of nodes) {
    const at = `-n ${fishQuote(`__rollgate_at ${quote(n.path)}`)}`;
    const atPos = (i: number) =>
      `-n ${fishQuote(`__rollgate_at ${quote(n.path)}; and test (__rollgate_npos) = ${i}`)}`;
    for (const s of n.subcommands)
      lines.push(
        `complete -c rollgate -f ${atPos(0)} -a ${fishQuote(s.name)} -d ${fishQuote(brief(s.description))}`,
      );
    n.argChoices.forEach((c, i) => {
      if (c.length) lines.push(`complete -c rollgate -f ${atPos(i)} -a ${fishQuote(c.join(" "))}`);
    });
    for (const o of n.options) {
      const names = [o.long ? `-l ${o.long.slice(2)}` : "", o.short ? `-s ${o.short.slice(1)}` : ""].filter(
        Boolean,
      );
      const value = o.choices.length ? `-x -a ${fishQuote(o.choices.join(" "))}` : o.takesValue ? "-r" : "";
      lines.push(
        ["complete -c rollgate", at, ...names, value, `-d ${fishQuote(brief(o.description))}`]
          .filter(Boolean)
          .join(" "),
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

export function completionScript(program: Command, shell: Shell): string {
  const nodes = completionTree(program);
  return shell === "bash" ? bashScript(nodes) : shell === "zsh" ? zshScript(nodes) : fishScript(nodes);
}
