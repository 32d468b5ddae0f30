package message

import "testing"

func TestParseFormatVariants(t *testing.T) {
	cases := []struct {
		in   string
		want Format
	}{
		{"FN=Segoe%20UI; EF=B; CO=ff0000; CS=0; PF=22", Format{Font: "Segoe UI", Bold: true, Color: 0x0000ff, HasColor: true, CharSet: "0", PitchFamily: "22"}},
		{"FN=MS%20Sans%20Serif;EF=IUS;CO=ff;CS=80;PF=0;RL=1", Format{Font: "MS Sans Serif", Italic: true, Underline: true, Strike: true, Color: 0xff0000, HasColor: true, CharSet: "80", PitchFamily: "0", RightToLeft: true}},
		{"fn=Arial; ef=; co=ff00; X-Unknown=7; cs=2", Format{Font: "Arial", Color: 0x00ff00, HasColor: true, CharSet: "2"}},
		{"CO=zz; EF=Q", Format{}},
		{"CO=1a2b3c", Format{Color: 0x3c2b1a, HasColor: true}},
		{"", Format{}},
		{";;;=;FN", Format{}},
	}
	for _, c := range cases {
		if got := ParseFormat(c.in); got != c.want {
			t.Errorf("ParseFormat(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestFormatString(t *testing.T) {
	f := Format{Font: "Segoe UI", Bold: true, Color: 0x0000ff, HasColor: true, CharSet: "0", PitchFamily: "22"}
	if got := f.String(); got != "FN=Segoe%20UI; EF=B; CO=ff0000; CS=0; PF=22" {
		t.Errorf("got %q", got)
	}
	// Leading zeros are dropped: red is ff, green ff00, black 0.
	for rgb, co := range map[uint32]string{0xff0000: "ff", 0x00ff00: "ff00", 0: "0", 0x000001: "10000", 0x123456: "563412"} {
		got := Format{Color: rgb, HasColor: true}.String()
		if want := "FN=; EF=; CO=" + co + "; CS=0; PF=0"; got != want {
			t.Errorf("colour %06x: %q, want %q", rgb, got, want)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	// CO is always written, so a parsed format always has a colour (black when CO=0).
	base := Format{Font: "Comic Sans MS", CharSet: "0", PitchFamily: "22", HasColor: true}
	variants := []func(*Format){
		func(f *Format) {},
		func(f *Format) { f.Bold = true },
		func(f *Format) { f.Italic = true },
		func(f *Format) { f.Underline = true },
		func(f *Format) { f.Strike = true },
		func(f *Format) { f.Bold, f.Italic, f.Underline, f.Strike = true, true, true, true },
		func(f *Format) { f.RightToLeft = true },
		func(f *Format) { f.Font = "Ünïcødé; =%font" },
		func(f *Format) { f.CharSet, f.PitchFamily = "128", "49" },
	}
	colours := []uint32{0x000000, 0xff0000, 0x00ff00, 0x0000ff, 0x0a0b0c, 0x800080, 0xffffff, 0x000001}
	for i, v := range variants {
		f := base
		v(&f)
		if got := ParseFormat(f.String()); got != f {
			t.Errorf("variant %d: %q parsed to %+v, want %+v", i, f.String(), got, f)
		}
		for _, c := range colours {
			g := f
			g.Color, g.HasColor = c, true
			if got := ParseFormat(g.String()); got != g {
				t.Errorf("variant %d colour %06x: %q parsed to %+v", i, c, g.String(), got)
			}
		}
	}
}
