package config

import "strings"

// OverrideEnv returns env with the entries of lxc.environment (overrides,
// "KEY=VALUE" each) applied in order: each replaces every entry of the same
// key and is appended. The init's and an attached command's environments
// are built this way. env's backing array is reused.
func OverrideEnv(env, overrides []string) []string {
	for _, kv := range overrides {
		k, _, _ := strings.Cut(kv, "=")
		out := env[:0]
		for _, old := range env {
			if ok, _, _ := strings.Cut(old, "="); ok != k {
				out = append(out, old)
			}
		}
		env = append(out, kv)
	}
	return env
}
