"""The safe Markdown subset: escape everything, then allow a handful of constructs."""
import pytest

from chalicelib.render.markdown import render


@pytest.mark.parametrize("text, html", [
    ("", ""),
    (None, ""),
    ("Hello", "<p>Hello</p>"),
    ("one\ntwo", "<p>one<br>\ntwo</p>"),
    ("one\n\n\ntwo", "<p>one</p><p>two</p>"),
    ("a\r\nb", "<p>a<br>\nb</p>"),
    ("**bold** and *em*", "<p><strong>bold</strong> and <em>em</em></p>"),
    ("run `rm -rf *` now", "<p>run <code>rm -rf *</code> now</p>"),
    ("`**not bold**`", "<p><code>**not bold**</code></p>"),
    ("[status](https://x.example/a?b=1&c=2)",
     '<p><a href="https://x.example/a?b=1&amp;c=2" rel="nofollow noopener">status</a></p>'),
    ("mail [us](mailto:ops@x.example)",
     '<p>mail <a href="mailto:ops@x.example" rel="nofollow noopener">us</a></p>'),
    ("see https://x.example/page.", '<p>see <a href="https://x.example/page" '
                                    'rel="nofollow noopener">https://x.example/page</a>.</p>'),
    ("2*3*4 = 24, a * b", "<p>2*3*4 = 24, a * b</p>"),
    ("x < y & z > w", "<p>x &lt; y &amp; z &gt; w</p>"),
])
def test_subset(text, html):
    assert str(render(text)) == html


@pytest.mark.parametrize("text, html", [
    ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
    ('"><img src=x onerror=alert(1)>', "<p>&#34;&gt;&lt;img src=x onerror=alert(1)&gt;</p>"),
    ("]]>", "<p>]]&gt;</p>"),
    # Schemes other than http, https and mailto are never links.
    ("[click](javascript:alert(1))", "<p>[click](javascript:alert(1))</p>"),
    ("[click](JaVaScRiPt:alert(1))", "<p>[click](JaVaScRiPt:alert(1))</p>"),
    ("[click](data:text/html,x)", "<p>[click](data:text/html,x)</p>"),
    ("[click](vbscript:x)", "<p>[click](vbscript:x)</p>"),
    # A quote can't leave the href: it ends the URL, and stays escaped text.
    ('[a](https://x.example/" onmouseover="alert(1))',
     '<p>[a](<a href="https://x.example/" rel="nofollow noopener">https://x.example/</a>'
     '&#34; onmouseover=&#34;alert(1))</p>'),
    ("**<b>x</b>**", "<p><strong>&lt;b&gt;x&lt;/b&gt;</strong></p>"),
    ("a\x00b\x07c", "<p>abc</p>"),
])
def test_hostile_input_stays_text(text, html):
    assert str(render(text)) == html


def test_output_is_markup_so_templates_do_not_escape_it_twice():
    from markupsafe import Markup, escape
    out = render("**x**")
    assert isinstance(out, Markup) and escape(out) == out

