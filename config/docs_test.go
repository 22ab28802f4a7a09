package config

import (
	"os"
	"strings"
	"testing"
)

// docs/configuration.md has one table row per variable, with its default, and
// a secret's row names its _FILE twin.
func TestDocs_ListEveryVariable(t *testing.T) {
	for _, path := range []string{"../docs/configuration.md", "../README.md"} {
		t.Run(path, func(t *testing.T) { checkVarTable(t, path) })
	}
}

func checkVarTable(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{} // variable name → cells
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "| `GOCUA_") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		name := strings.Trim(cells[0], "`")
		if _, dup := rows[name]; dup {
			t.Errorf("%s is listed twice", name)
		}
		rows[name] = cells
	}

	for _, v := range Vars() {
		cells, ok := rows[v.Name]
		if !ok {
			t.Errorf("%s has no row for %s", path, v.Name)
			continue
		}
		delete(rows, v.Name)
		if len(cells) != 3 {
			t.Errorf("%s: row has %d cells, want 3 (variable, default, meaning)", v.Name, len(cells))
			continue
		}
		want := ""
		if v.Default != "" {
			want = "`" + v.Default + "`"
		}
		if cells[1] != want {
			t.Errorf("%s: documented default %q, want %q", v.Name, cells[1], want)
		}
		if cells[2] == "" {
			t.Errorf("%s: no meaning documented", v.Name)
		}
		if v.Secret && !strings.Contains(cells[2], "`"+v.Name+"_FILE`") {
			t.Errorf("%s: a secret's row should name `%s_FILE`", v.Name, v.Name)
		}
	}
	for name := range rows {
		t.Errorf("%s lists %s, which config does not read", path, name)
	}
}
