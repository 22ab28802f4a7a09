// Package areas reads the communes and wards a deployment serves, with their
// local offices, from one YAML file (GOCUA_AREAS_FILE), and finds a
// resident's area by code or by what they type.
//
// Since 1 July 2025 Vietnam has two levels of local government: the province
// (tỉnh / thành phố) and its commune-level units (xã, phường, đặc khu). A
// file lists one province's units; each unit may list the offices a resident
// goes to in person: the commune or ward police (Công an xã/phường, where
// VNeID level-2 accounts are registered) and the public-service centre
// (Trung tâm Phục vụ hành chính công). docs/areas.md describes the format.
//
// The package holds data only: it knows nothing of residents, tickets or
// channels.
package areas

import (
	"slices"
	"strings"

	"github.com/gocua/gocua/flows"
)

// Kind is the kind of a commune-level unit.
type Kind string

// The kinds of commune-level unit.
const (
	KindWard        Kind = "ward"         // phường
	KindCommune     Kind = "commune"      // xã
	KindSpecialZone Kind = "special_zone" // đặc khu
)

// OfficeKind is the kind of a local office.
type OfficeKind string

// The kinds of office.
const (
	OfficePolice        OfficeKind = "police"         // Công an xã/phường/đặc khu
	OfficePublicService OfficeKind = "public_service" // Trung tâm Phục vụ hành chính công cấp xã
)

// MaxCode is the longest area code in bytes: a Telegram deep link
// (t.me/<bot>?start=<code>) carries at most 64.
const MaxCode = 64

// Province is the province or centrally-run city the file is for.
type Province struct {
	Code string `yaml:"code"` // [a-z0-9_], e.g. "hue"
	Name string `yaml:"name"` // e.g. "Thành phố Huế"
}

// Office is one place a resident can go. Only Kind and Name are required;
// the other fields are empty when nobody has found them in a source.
type Office struct {
	Kind    OfficeKind `yaml:"kind"`
	Name    string     `yaml:"name"`
	Address string     `yaml:"address"`
	Hours   string     `yaml:"hours"`  // free text
	Phone   string     `yaml:"phone"`  // as written in the file
	Source  string     `yaml:"source"` // where these details were read
}

// Area is one commune-level unit.
type Area struct {
	Code    string   `yaml:"code"` // [a-z0-9_], at most MaxCode bytes, unique in the file
	Name    string   `yaml:"name"` // full name with its kind, e.g. "Phường Phú Xuân"
	Kind    Kind     `yaml:"kind"`
	Aliases []string `yaml:"aliases"` // other spellings, names before the 2025 merger
	Offices []Office `yaml:"offices"`
}

// Office returns the area's first office of the kind.
func (a Area) Office(kind OfficeKind) (Office, bool) {
	for _, o := range a.Offices {
		if o.Kind == kind {
			return o, true
		}
	}
	return Office{}, false
}

func (a Area) clone() Area {
	a.Aliases = slices.Clone(a.Aliases)
	a.Offices = slices.Clone(a.Offices)
	return a
}

// Set is a valid areas file. It is read-only and safe for concurrent use.
type Set struct {
	province Province
	verified string
	sources  []string
	areas    []Area
	byCode   map[string]int
	keys     []areaKeys // parallel to areas
}

// areaKeys are an area's match keys, its kind word removed.
type areaKeys struct {
	name    string
	aliases []string
}

// Province is the province the file is for.
func (s *Set) Province() Province { return s.province }

// Verified is the date the offices were last checked (YYYY-MM-DD), or "".
func (s *Set) Verified() string { return s.verified }

// Sources are where the file's data comes from.
func (s *Set) Sources() []string { return slices.Clone(s.sources) }

// Len is the number of areas.
func (s *Set) Len() int { return len(s.areas) }

// All returns every area in file order.
func (s *Set) All() []Area {
	out := make([]Area, len(s.areas))
	for i, a := range s.areas {
		out[i] = a.clone()
	}
	return out
}

// Lookup returns the area with exactly this code (as in a /start link).
func (s *Set) Lookup(code string) (Area, bool) {
	i, ok := s.byCode[code]
	if !ok {
		return Area{}, false
	}
	return s.areas[i].clone(), true
}

// maxQuery bounds the folded text Match looks at: no name is that long.
const maxQuery = 200

// Match ranks the areas whose name or alias matches what a resident typed,
// best first, at most limit of them (all when limit ≤ 0). Case, diacritics
// and punctuation are ignored, and so is a leading kind word (phường, xã,
// đặc khu, thị trấn, p., x., tt.): "phuong ben thanh", "Bến Thành",
// "P. Bến Thành" and "ben thanh" find the same ward. The ranks are: the name
// exactly, the name starting with the text, the name containing it at the
// start of a word, then anywhere (texts of three or more letters), then the
// same four for aliases. Within a rank, an area whose kind is the one the
// text names comes first, then file order. Text that folds to nothing
// matches nothing, and so does a kind word alone.
func (s *Set) Match(text string, limit int) []Area {
	q, qkind := fold(text)
	if q == "" || len(q) > maxQuery || isKindWord(q) {
		return nil
	}
	// the text with its kind word too, for names that start with one
	// ("Phường Phường Đúc", once a ward of Huế)
	whole := flows.MatchKey(text)
	rankOf := func(key string) int {
		r := rankOf(key, q)
		if whole != q {
			if w := rankOf(key, whole); w >= 0 && (r < 0 || w < r) {
				r = w
			}
		}
		return r
	}
	type hit struct {
		rank, other, i int
	}
	var hits []hit
	for i, k := range s.keys {
		rank := rankOf(k.name)
		if rank < 0 {
			for _, a := range k.aliases {
				if r := rankOf(a); r >= 0 && (rank < 0 || 4+r < rank) {
					rank = 4 + r
				}
			}
		}
		if rank < 0 {
			continue
		}
		other := 0
		if qkind != "" && s.areas[i].Kind != qkind {
			other = 1
		}
		hits = append(hits, hit{rank, other, i})
	}
	slices.SortStableFunc(hits, func(a, b hit) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		if a.other != b.other {
			return a.other - b.other
		}
		return a.i - b.i
	})
	if limit > 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]Area, len(hits))
	for j, h := range hits {
		out[j] = s.areas[h.i].clone()
	}
	return out
}

// rankOf is 0 for key == q, 1 for a prefix, 2 for a word inside, 3 for a
// substring of at least three bytes, -1 for no match.
func rankOf(key, q string) int {
	switch {
	case key == q:
		return 0
	case strings.HasPrefix(key, q):
		return 1
	case strings.Contains(key, " "+q):
		return 2
	case len(q) >= 3 && strings.Contains(key, q):
		return 3
	}
	return -1
}

// kindWords are the leading words fold removes, with the kind they name.
var kindWords = []struct {
	word string
	kind Kind
}{
	{"phuong", KindWard}, {"p", KindWard},
	{"xa", KindCommune}, {"x", KindCommune},
	{"dac khu", KindSpecialZone}, {"dk", KindSpecialZone},
	{"thi tran", ""}, {"tt", ""}, // before 2025: alias names only
}

func isKindWord(k string) bool {
	for _, w := range kindWords {
		if k == w.word {
			return true
		}
	}
	return false
}

// fold is the match key of s without its leading kind word (only one:
// "Phường Phường Đúc" is "phuong duc"), and the kind the word names. A text
// that is only a kind word keeps it.
func fold(s string) (string, Kind) {
	k := flows.MatchKey(s)
	for _, w := range kindWords {
		if rest, ok := strings.CutPrefix(k, w.word+" "); ok && rest != "" {
			return rest, w.kind
		}
	}
	return k, ""
}
