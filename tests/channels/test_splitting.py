from channels.splitting import split_text, utf8_size
from channels.texts import ChannelTexts, is_blank


def test_short_text_is_one_part():
    assert split_text("  老板欠薪怎么办？ ") == ["老板欠薪怎么办？"]
    assert split_text(" \n ") == []


def test_long_answer_splits_on_paragraphs_within_2048_bytes():
    paragraph = "根据《劳动合同法》第三十条，用人单位应当按照劳动合同约定和国家规定，向劳动者及时足额支付劳动报酬。" * 8
    text = "\n\n".join(f"{index}. {paragraph}" for index in range(6))
    parts = split_text(text)
    assert len(parts) > 1
    assert all(utf8_size(part) <= 2048 for part in parts)
    # Paragraphs are kept whole and in order: joining the parts gives the original text back.
    assert "\n\n".join(parts) == text
    assert all(part.split(". ", 1)[0].isdigit() for part in parts)


def test_one_long_paragraph_splits_after_sentences():
    sentence = "劳动者可以向劳动争议仲裁委员会申请仲裁。"
    text = sentence * 200
    parts = split_text(text)
    assert all(utf8_size(part) <= 2048 for part in parts)
    assert all(part.endswith("。") for part in parts)
    assert "".join(parts) == text


def test_text_without_boundaries_splits_between_characters_never_inside_one():
    text = "工资" * 3000 + "👍🏽" + "👨‍👩‍👧" * 400
    parts = split_text(text, max_bytes=2048)
    assert all(utf8_size(part) <= 2048 for part in parts)
    assert "".join(parts) == text
    for part in parts:
        part.encode("utf-8").decode("utf-8")  # whole characters only
        assert not part.startswith(("\u200d", "\U0001f3fd"))  # emoji modifiers stay with their emoji
        assert not part.endswith("\u200d")


def test_small_limit_for_other_channels():
    parts = split_text("第一句。第二句！第三句？", max_bytes=12)
    assert parts == ["第一句。", "第二句！", "第三句？"]


def test_blank_and_emoji_only_messages():
    assert is_blank("")
    assert is_blank("   ")
    assert is_blank("😀😀👍")
    assert is_blank("[微笑][抱拳]")
    assert is_blank("/::)/::P ？？")
    assert not is_blank("工资")
    assert not is_blank("[微笑]欠我工资")
    assert not is_blank("12348")


def test_too_long_text_names_the_limit():
    assert "500" in ChannelTexts().too_long_for(500)
