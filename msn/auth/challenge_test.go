package auth

import (
	"strings"
	"testing"
)

// Vectors from /work/shared/msnp/VECTORS.md §1 and §2.

func TestMD5Response(t *testing.T) {
	tests := []struct{ salt, password, want string }{
		{"abcdefg", "1234567", "d1713d0f1d2e8fae230328d8fd59de01"},
		{"1013928519.693957190", "mypassword", "6f3963009fc8a9d2b2ff137da0905c55"},
	}
	for _, tc := range tests {
		if got := MD5Response(tc.salt, tc.password); got != tc.want {
			t.Errorf("MD5Response(%q, %q) = %s, want %s", tc.salt, tc.password, got, tc.want)
		}
	}
}

func TestChallengeMD5(t *testing.T) {
	tests := []struct{ chl, want string }{
		{"15570131571988941333", "8f2f5a91b72102cd28355e9fc9000d6e"}, // verified
		{"12345678901234567890", "8ba1bb9d6dbf624fee31a2053af5fdd0"}, // verified
		{"22210219642164014968", "eedf627f65e76d031255a605f5841204"}, // computed
	}
	for _, tc := range tests {
		if got := ChallengeMD5(tc.chl, "Q1P7W2E4J9R8U3S5"); got != tc.want {
			t.Errorf("ChallengeMD5(%s) = %s, want %s", tc.chl, got, tc.want)
		}
		for _, v := range []int{6, 8, 10} {
			id, got := ChallengeResponse(v, tc.chl)
			if id != "msmsgs@msnmsgr.com" || got != tc.want {
				t.Errorf("ChallengeResponse(%d, %s) = %s %s, want msmsgs@msnmsgr.com %s", v, tc.chl, id, got, tc.want)
			}
		}
	}
}

func TestChallengeMSNP11(t *testing.T) {
	type vec struct{ id, key, chl, want string }
	const (
		msn70ID, msn70Key   = "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL"
		msn708ID, msn708Key = "PROD0101{0RM?UBW", "CFHUR$52U_{VIX5T"
		wlm80ID, wlm80Key   = "PROD01065C%ZFN6F", "O4BG@C7BWLYQX?5G"
		wlm81bID, wlm81bKey = "PROD0113H11T8$X_", "RG@XY*28Q5QHS%Q5"
	)
	tests := []vec{
		// §2.2 MSN 7.0 (verified)
		{msn70ID, msn70Key, "22210219642164014968", "85ecb0db8f32113df79ce0892b9a102c"},
		{msn70ID, msn70Key, "13038318816579321232", "b01c13020e374d4fa20abfad6981b7a9"},
		{msn70ID, msn70Key, "23055170411503520698", "ae906c3f2946d25e7da1b08b0b247659"},
		{msn70ID, msn70Key, "37819769320541083311", "db79d37dadd9031bef996893321da480"},
		{msn70ID, msn70Key, "93662730714769834295", "d619dfbb1414004d34d0628766636568"},
		{msn70ID, msn70Key, "31154116582196216093", "95e96c4f8cfdba6f065c8869b5e984e9"},
		// §2.2 ECF, "sourced only" (same pair per VECTORS; they match)
		{msn70ID, msn70Key, "36819795137093047918", "e7ad3cb09d3e9e4e7c720175984809e9"},
		{msn70ID, msn70Key, "21948129323261853323", "59bcf63ed21f44906c3d3e121ddbed65"},
		// §2.3 MSN 7.0.0813 (Kopete)
		{msn708ID, msn708Key, "13038318816579321232", "5f6ae998b8fa70c37b62980f71a0e736"},
		{msn708ID, msn708Key, "23055170411503520698", "934ab429609709f4fe70e5fa930993c2"},
		{msn708ID, msn708Key, "37819769320541083311", "40575bf9740af7cad8671211e417d0cb"},
		{msn708ID, msn708Key, "93662730714769834295", "003ed1b1be3ca0d81f83a587ebbe3675"},
		// §2.3 WLM 8.0 (Kopete, Papillon)
		{wlm80ID, wlm80Key, "15570131571988941333", "47d2b1e24f85947bdd29b3bfe29f027b"},
		{wlm80ID, wlm80Key, "93662730714769834295", "1fd1345b59d9e2c1af131e00b51ddb96"},
		{wlm80ID, wlm80Key, "13038318816579321232", "f52409e13833d91f66af73abfced22bf"},
		{wlm80ID, wlm80Key, "23055170411503520698", "780ee59b51acfd094658a55181fed7ca"},
		// §2.3 WLM 8.1 beta (Ruby spec), including a 27-digit challenge
		{wlm81bID, wlm81bKey, "11533365622852247127", "f086d1ded067186deca8dba2231602cf"},
		{wlm81bID, wlm81bKey, "237191752526424888127371168", "65b6b623c649c25629af048d34066040"},
		// §2.4 computed extras
		{"PROD0114ES4Z%Q5W", "PK}_A_0N_K%O?A9S", "22210219642164014968", "e790b908276bb51115fa7eb3c8a36315"},
		{"PROD0114ES4Z%Q5W", "PK}_A_0N_K%O?A9S", "15570131571988941333", "ae79936594a1918def84ea4997163d6c"},
		{"PROD0118R6%2WYOS", "YIXPX@5I2P0UT*LK", "22210219642164014968", "8c24d791ee3a1064557c99fcf95fde72"},
		{"PROD0118R6%2WYOS", "YIXPX@5I2P0UT*LK", "15570131571988941333", "e00ce87d7db6b0c57bd39fbdcb22598a"},
		{"PROD0119GSJUC$18", "ILTXC!4IXB5FB*PX", "22210219642164014968", "a400af809ac86fbdf6deec7286fc06b8"},
		{"PROD0119GSJUC$18", "ILTXC!4IXB5FB*PX", "15570131571988941333", "521fdf1c2586c53b01b2b2653dc9085f"},
		{"PROD0120PW!CCV9@", "C1BX{V4W}Q3*10SM", "22210219642164014968", "6e92a312bf6b70ee58e75a1e3315695c"},
		{"PROD0120PW!CCV9@", "C1BX{V4W}Q3*10SM", "15570131571988941333", "9cb1df88322e338f23c67780a2ff14e1"},
		// §2.4 padding edge case: 24+16 = 40 bytes, "always pad" variant (Escargot/MSNPSharp/papyon).
		{msn70ID, msn70Key, "123456789012345678901234", "948035b948c0318ad3fc5287620769f4"},
	}
	for _, tc := range tests {
		if got := ChallengeMSNP11(tc.chl, tc.id, tc.key); got != tc.want {
			t.Errorf("ChallengeMSNP11(%s, %s) = %s, want %s", tc.chl, tc.id, got, tc.want)
		}
	}
}

// The pad-only-when-needed variant (pidgin) gives a different answer for the edge case; make
// sure the choice is the documented one and not accidentally that one.
func TestChallengeMSNP11PaddingChoice(t *testing.T) {
	got := ChallengeMSNP11("123456789012345678901234", "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL")
	if got == "cfd1a4febba8ec8488adc3c0916fb4fa" {
		t.Fatal("ChallengeMSNP11 pads only when needed; the documented choice is to always pad")
	}
}

func TestProductFor(t *testing.T) {
	tests := []struct {
		version int
		id      string
	}{
		{2, "msmsgs@msnmsgr.com"}, {7, "msmsgs@msnmsgr.com"}, {10, "msmsgs@msnmsgr.com"},
		{11, "PROD0090YUAUV{2B"}, {12, "PROD0090YUAUV{2B"},
		{13, "PROD01065C%ZFN6F"}, {14, "PROD01065C%ZFN6F"},
		{15, "PROD0119GSJUC$18"},
		{16, "PROD0120PW!CCV9@"}, {17, "PROD0120PW!CCV9@"}, {18, "PROD0120PW!CCV9@"}, {21, "PROD0120PW!CCV9@"},
	}
	for _, tc := range tests {
		p := ProductFor(tc.version)
		if p.ID != tc.id || len(p.Key) != 16 {
			t.Errorf("ProductFor(%d) = %+v, want id %s with a 16-character key", tc.version, p, tc.id)
		}
	}
}

func TestChallengeResponseByVersion(t *testing.T) {
	// MSNP11–12 uses the advanced algorithm with the MSN 7.0 pair (verified vector).
	id, ans := ChallengeResponse(11, "22210219642164014968")
	if id != "PROD0090YUAUV{2B" || ans != "85ecb0db8f32113df79ce0892b9a102c" {
		t.Errorf("MSNP11: got %s %s", id, ans)
	}
	// MSNP13 uses the WLM 8.0 pair (verified vector).
	id, ans = ChallengeResponse(13, "15570131571988941333")
	if id != "PROD01065C%ZFN6F" || ans != "47d2b1e24f85947bdd29b3bfe29f027b" {
		t.Errorf("MSNP13: got %s %s", id, ans)
	}
	id, ans = ChallengeResponse(15, "15570131571988941333")
	if id != "PROD0119GSJUC$18" || ans != "521fdf1c2586c53b01b2b2653dc9085f" {
		t.Errorf("MSNP15: got %s %s", id, ans)
	}
	id, ans = ChallengeResponse(18, "22210219642164014968")
	if id != "PROD0120PW!CCV9@" || ans != "6e92a312bf6b70ee58e75a1e3315695c" {
		t.Errorf("MSNP18: got %s %s", id, ans)
	}
}

func TestChallengeOddInputs(t *testing.T) {
	for _, chl := range []string{"", "1", strings.Repeat("9", 1000), "\x00\xff"} {
		ans := ChallengeMSNP11(chl, "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL")
		if len(ans) != 32 || strings.ToLower(ans) != ans {
			t.Errorf("ChallengeMSNP11(%q) = %q, want 32 lowercase hex characters", chl, ans)
		}
	}
}
