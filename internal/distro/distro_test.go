package distro

import "testing"

func TestMirrorIn(t *testing.T) {
	deb822 := `Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: trixie
Components: main

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
Enabled: yes
`
	list := `# a comment
deb-src http://src.example/debian trixie main
deb [arch=amd64 signed-by=/k.gpg] http://arch.example/debian trixie main
deb http://plain.example/debian bookworm main
`
	for _, tc := range []struct {
		text, suite string
		deb822      bool
		want        string
	}{
		{deb822, "bookworm", true, "http://mirror.example/debian"},
		{deb822, "bookworm-security", true, "http://security.example/debian-security"},
		{deb822, "trixie", true, ""}, // only deb-src serves it
		{list, "bookworm", false, "http://plain.example/debian"},
		{list, "trixie", false, "http://arch.example/debian"},
		{list, "sid", false, ""},
	} {
		if got := mirrorIn(tc.text, tc.suite, tc.deb822); got != tc.want {
			t.Errorf("mirrorIn(%s, deb822=%v) = %q, want %q", tc.suite, tc.deb822, got, tc.want)
		}
	}
}

// The recipe's hash changes with what is built, so a cached tree of
// another recipe is rebuilt; it is stable otherwise.
func TestRecipeHash(t *testing.T) {
	r := release{suite: "bookworm", mirror: "http://m.example/debian"}
	seen := map[string]Init{}
	for _, i := range Inits {
		h := recipeHash(r, SpecOf(i))
		if h != recipeHash(r, SpecOf(i)) {
			t.Errorf("%s: hash not stable", i)
		}
		if other, dup := seen[h]; dup {
			t.Errorf("%s and %s share hash %s", i, other, h)
		}
		seen[h] = i
	}
	if recipeHash(release{suite: "trixie"}, SpecOf(Systemd)) == recipeHash(r, SpecOf(Systemd)) {
		t.Error("the suite does not change the hash")
	}
}
