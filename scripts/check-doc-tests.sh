#!/usr/bin/env bash
# Fails when a test named in docs/reliability.md does not exist, so the document cannot point at a test
# that was renamed or removed. A name is a backticked path of two or more `::`-separated snake_case parts:
# `module::test` is an integration test (tests/integration/module.rs must define `fn test`);
# `a::b::tests::name` (marked "unit" in the document) is a unit test in src/a/b.rs (or src/a/b/tests.rs), `a::b::name` a test in the
# test-only module src/a/b.rs, and a path ending in `tests` names the test module itself.
set -euo pipefail
cd "$(dirname "$0")/.."
doc=${1:-docs/reliability.md}

missing=0
checked=0
while read -r name; do
    IFS=':' read -r -a raw <<<"${name//::/:}"
    parts=("${raw[@]}")
    last=${parts[-1]}
    if [[ ${#parts[@]} -eq 2 && -f tests/integration/${parts[0]}.rs ]]; then
        file=tests/integration/${parts[0]}.rs
        pattern="fn ${last}\\b"
    else
        # Unit: the source file is the path up to `tests`.
        path=()
        for part in "${parts[@]}"; do
            [[ $part == tests ]] && break
            path+=("$part")
        done
        # A test-only module (`exec::agreement::name`) has no `tests` part: the file is the path up to the name.
        if ((${#path[@]} == ${#parts[@]})); then
            unset 'path[-1]'
        fi
        file=src/$(IFS=/; echo "${path[*]}").rs
        [[ -f $file ]] || file=src/$(IFS=/; echo "${path[*]}")/mod.rs
        if [[ $last == tests ]]; then
            pattern="mod tests\\b"
        else
            pattern="fn ${last}\\b"
        fi
    fi
    # Unit tests kept in their own file beside the module (`src/a/b/tests.rs`, declared `mod tests;`).
    if [[ $last != tests && -f ${file%.rs}/tests.rs ]] && ! grep -Eq "$pattern" "$file"; then
        file=${file%.rs}/tests.rs
    fi
    checked=$((checked + 1))
    if [[ ! -f $file ]] || ! grep -Eq "$pattern" "$file"; then
        echo "$doc names \`$name\`, but ${file} has no \`${pattern//\\b/}\`" >&2
        missing=$((missing + 1))
    fi
done < <(grep -oE '`[a-z_0-9]+(::[a-z_0-9]+)+`' "$doc" | tr -d '`' | sort -u)

if ((checked == 0)); then
    echo "$doc names no test: is the pattern out of date?" >&2
    exit 1
fi
if ((missing > 0)); then
    echo "$missing of $checked tests named in $doc do not exist" >&2
    exit 1
fi
echo "$checked tests named in $doc exist"
