package areas

import (
	_ "embed"
	"slices"
	"sync"
)

// SampleName is how issues in the bundled sample name it.
const SampleName = "sample/hue.yaml"

//go:embed sample/hue.yaml
var sample []byte

// SampleData is the bundled sample file: the communes and wards of Thành
// phố Huế since July 2025, for trying gocua. It must be checked before it
// serves real residents (its header says what was and was not sourced).
func SampleData() []byte { return slices.Clone(sample) }

var sampleSet = sync.OnceValue(func() *Set {
	s, err := Parse(SampleName, sample)
	if err != nil {
		panic("areas: the bundled sample does not load: " + err.Error())
	}
	return s
})

// Sample is the bundled sample, loaded. Tests keep it valid.
func Sample() *Set { return sampleSet() }
