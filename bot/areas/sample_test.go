package areas

import (
	"testing"
	"time"
)

func TestSampleLoads(t *testing.T) {
	if is := Check(time.Now(), SampleName, SampleData()); is != nil {
		t.Fatalf("the bundled sample has problems:\n%v", Issues(is))
	}
	s := Sample()
	if s.Province() != (Province{Code: "hue", Name: "Thành phố Huế"}) {
		t.Errorf("province %+v", s.Province())
	}
	var wards, communes int
	for _, a := range s.All() {
		switch a.Kind {
		case KindWard:
			wards++
		case KindCommune:
			communes++
		default:
			t.Errorf("%s: kind %q", a.Code, a.Kind)
		}
		for _, o := range a.Offices {
			if o.Source == "" {
				t.Errorf("%s: office %q has no source", a.Code, o.Name)
			}
		}
	}
	// Nghị quyết 1675/NQ-UBTVQH15: 21 phường and 19 xã
	if wards != 21 || communes != 19 {
		t.Errorf("%d wards and %d communes, want 21 and 19", wards, communes)
	}
	if len(s.Sources()) == 0 || s.Verified() == "" {
		t.Error("the sample must name its sources and the day it was checked")
	}
}
