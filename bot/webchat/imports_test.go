package webchat

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The adapter speaks to storage only through the interfaces it declares
// (History, Uploads, Keys): neither it nor its tests import package store.
func TestNoStoreImport(t *testing.T) {
	names, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, n := range names {
		if !strings.HasSuffix(n.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, n.Name(), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == "github.com/gocua/gocua/store" || strings.HasPrefix(path, "github.com/gocua/gocua/store/") {
				t.Errorf("%s imports %s", n.Name(), path)
			}
		}
	}
}
