"""FastSelect renders the same select as Django's, without the template engine."""
from django import forms

from yingji.core.widgets import FastSelect


class F(forms.Form):
    pick = forms.ChoiceField(choices=[("", "全部"), ("a<b", "甲 & 乙"), ("2", "二")], required=False,
                             widget=FastSelect(attrs={"class": "x"}))


def test_fast_select_marks_the_chosen_option_and_escapes():
    html = str(F({"pick": "a<b"})["pick"])
    assert html.startswith('<select class="x" id="id_pick" name="pick">')
    assert '<option value="a&lt;b" selected>甲 &amp; 乙</option>' in html
    assert '<option value="">全部</option>' in html and html.endswith("</select>")
    assert '<option value="" selected>全部</option>' in str(F()["pick"])
