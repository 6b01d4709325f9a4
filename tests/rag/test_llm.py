"""``make_llm``'s fake specs and its plugin hook: the path a user (and every test) takes to a model."""
import pytest

from rag.config import Settings
from rag.llm import make_llm, register_llm


def test_fake_list_replies_in_turn():
    llm = make_llm('fake-list:["first [1].", "second,\\nwith a newline"]')
    assert [llm.invoke("q").content for _ in range(3)] == ["first [1].", "second,\nwith a newline", "first [1]."]
    for bad in ("fake-list:", "fake-list:[]", "fake-list:not json", 'fake-list:["a", 1]', 'fake-list:"a"'):
        with pytest.raises(ValueError, match="JSON array of reply strings"):
            make_llm(bad)


def test_a_registered_model_is_chosen_by_its_spec_and_removed_again():
    from fakes import QueuedChatModel

    built: list[tuple[str, Settings]] = []

    def build(arg: str, settings: Settings) -> QueuedChatModel:
        built.append((arg, settings))
        return QueuedChatModel(answers=[f"reply from {arg or 'nothing'}"])

    unregister = register_llm("mine", build)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_llm("mine", build)
        assert make_llm("mine:abc").invoke("q").content == "reply from abc"
        settings = Settings.from_env(llm="mine")
        assert make_llm(settings=settings).invoke("q").content == "reply from nothing"
        assert built[1] == ("", settings)
    finally:
        unregister()
    with pytest.raises(ValueError, match="unknown --llm 'mine'"):
        make_llm("mine")


@pytest.mark.parametrize("name", ["local", "gguf", "openai", "fake", "fake-list", "", "a:b"])
def test_built_in_names_cannot_be_replaced(name):
    with pytest.raises(ValueError, match="cannot register"):
        register_llm(name, lambda arg, settings: None)
