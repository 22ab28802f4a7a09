package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestGoldenSafety plays scripted conversations about resident safety through
// the real Telegram ingress and compares them with
// testdata/golden/safety_<name>.txt, like TestGoldenTranscripts (which only
// follows first buttons, so it never meets these). Each line of a script is
// "tap <button label>", "/command" or text the resident types. Run with
// -update after changing bundled content, and review the diff.
func TestGoldenSafety(t *testing.T) {
	scripts := []struct {
		name  string
		lines []string
	}{
		{"scam_talk", []string{
			"/start",
			// Scam talk reaches the warning, not the how-to its words also name.
			"có người gọi bảo kích hoạt định danh mức 2",
			"tap ✅ Tôi hiểu rồi",
			"co nguoi xin ma otp",
			"người ta bảo tôi chuyển tiền",
			"cán bộ phường gọi bảo cập nhật vneid",
			"nhận quà 100.000 trên vneid",
			"tap 🚨 Tôi lỡ làm theo rồi",
			"tap 🏠 Menu chính",
			// An ordinary request is not diverted…
			"kích hoạt tài khoản",
			"tap Tiếp tục ▶",
			"tap ✅ Đã gửi yêu cầu",
			// …but scam talk in the middle of it is, and back returns there.
			"cháu ơi, có người gọi xin mã OTP",
			"tap ⬅️ Quay lại",
		}},
		{"scam_talk_en", []string{
			"/start",
			"/lang en",
			"they asked for my OTP to activate level 2",
			"tap 📖 Read the 7 rules",
		}},
		{"id_number", []string{
			"/start",
			"đổi số điện thoại",
			// Told to text 1414 from the Messages app; typed here anyway.
			"TTTB 001234567890",
		}},
		{"lost_phone", []string{
			"/start",
			"mất điện thoại",
			"tap Tiếp tục ▶",
			"tap Tiếp tục ▶",
			"tap Tiếp tục ▶",
			"tap Tiếp tục ▶",
			"tap Tiếp tục ▶",
			"tap Tiếp tục ▶",
			"tap 📵 Máy mới không có NFC",
			"tap Tiếp tục ▶",
			"tap Tiếp tục ▶",
			"tap Tiếp tục ▶",
			"tap ❌ Không",
			"máy tôi là Samsung A12",
		}},
	}
	h := start(t, nil)
	for _, sc := range scripts {
		t.Run(sc.name, func(t *testing.T) {
			w := walker{h: h, t: t, chat: newChatID()}
			for _, line := range sc.lines {
				if label, ok := strings.CutPrefix(line, "tap "); ok {
					w.input("tap "+quote(label), buttonUpdate(nextUpdateID(), w.chat, w.find(label)))
					continue
				}
				label := "type " + quote(line)
				if strings.HasPrefix(line, "/") {
					label = line
				}
				w.input(label, textUpdate(nextUpdateID(), w.chat, line))
			}
			compareGolden(t, filepath.Join("testdata", "golden", "safety_"+sc.name+".txt"), w.log.String())
		})
	}
}
