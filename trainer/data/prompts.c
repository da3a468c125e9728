/* libcocodata: instruction templates in English, Simplified Chinese and
 * Japanese, with referring expressions that single out one object.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Templates use {obj} (a referring expression), {new} (an object name),
 * {place}, {color}, {old} and {text} (words of a text edit).
 */
#include <string.h>

#include "cocodata-private.h"

const gchar *
cocodata_lang_name (CocodataLang lang)
{
  static const gchar *names[] = { "en", "zh", "ja" };
  return lang < COCODATA_N_LANGS ? names[lang] : "";
}

gboolean
cocodata_lang_parse (const gchar *name, CocodataLang *lang)
{
  for (guint l = 0; l < COCODATA_N_LANGS; l++)
    if (g_strcmp0 (name, cocodata_lang_name (l)) == 0)
      {
        *lang = l;
        return TRUE;
      }
  return FALSE;
}

static const gchar *const edit_names[] = {
  "replace", "remove", "add", "recolor", "resize", "move", "text", "unknown"
};

const gchar *
cocodata_edit_type_name (CocodataEditType type)
{
  return type <= COCODATA_EDIT_UNKNOWN ? edit_names[type] : "unknown";
}

gboolean
cocodata_edit_type_parse (const gchar *name, CocodataEditType *type)
{
  for (guint t = 0; t <= COCODATA_EDIT_UNKNOWN; t++)
    if (g_strcmp0 (name, edit_names[t]) == 0)
      {
        *type = t;
        return TRUE;
      }
  return FALSE;
}

const CocodataColor cocodata_colors[] = {
  { { "red", "红色", "赤" },        { "red", "红色的", "赤い" },        { 220, 30, 30 } },
  { { "orange", "橙色", "オレンジ色" }, { "orange", "橙色的", "オレンジ色の" }, { 245, 130, 20 } },
  { { "yellow", "黄色", "黄色" },   { "yellow", "黄色的", "黄色い" },    { 245, 215, 30 } },
  { { "green", "绿色", "緑" },      { "green", "绿色的", "緑の" },      { 40, 170, 50 } },
  { { "blue", "蓝色", "青" },       { "blue", "蓝色的", "青い" },       { 30, 80, 220 } },
  { { "purple", "紫色", "紫" },     { "purple", "紫色的", "紫の" },     { 140, 50, 190 } },
  { { "pink", "粉色", "ピンク" },   { "pink", "粉色的", "ピンクの" },   { 245, 120, 180 } },
  { { "brown", "棕色", "茶色" },    { "brown", "棕色的", "茶色の" },    { 130, 80, 40 } },
  { { "gray", "灰色", "灰色" },     { "gray", "灰色的", "灰色の" },     { 128, 128, 128 } },
};
const guint cocodata_n_colors = G_N_ELEMENTS (cocodata_colors);

typedef struct
{
  const gchar *at[COCODATA_N_LANGS];   /* where something is / is added */
  const gchar *to[COCODATA_N_LANGS];   /* where something moves to      */
  guint8       col, row;
} PlaceWords;

static const PlaceWords places[COCODATA_N_PLACES] = {
  { { "on the left", "左边", "左側" }, { "to the left", "左边", "左側" }, 0, 1 },
  { { "on the right", "右边", "右側" }, { "to the right", "右边", "右側" }, 2, 1 },
  { { "at the top", "上方", "上の方" }, { "to the top", "上方", "上の方" }, 1, 0 },
  { { "at the bottom", "下方", "下の方" }, { "to the bottom", "下方", "下の方" }, 1, 2 },
  { { "in the middle", "中间", "真ん中" }, { "to the middle", "中间", "真ん中" }, 1, 1 },
  { { "in the top left corner", "左上角", "左上" }, { "to the top left corner", "左上角", "左上" }, 0, 0 },
  { { "in the top right corner", "右上角", "右上" }, { "to the top right corner", "右上角", "右上" }, 2, 0 },
  { { "in the bottom left corner", "左下角", "左下" }, { "to the bottom left corner", "左下角", "左下" }, 0, 2 },
  { { "in the bottom right corner", "右下角", "右下" }, { "to the bottom right corner", "右下角", "右下" }, 2, 2 },
};

void
cocodata_place_cell (CocodataPlace place, guint *col, guint *row)
{
  *col = places[place].col;
  *row = places[place].row;
}

/* Referring expressions; {name} is the object's name, {mod} a colour modifier. */
static const gchar *const refs[][COCODATA_N_LANGS] = {
  [COCODATA_REF_NAME]    = { "the {name}", "{name}", "{name}" },
  [COCODATA_REF_LEFT]    = { "the {name} on the left", "左边的{name}", "左の{name}" },
  [COCODATA_REF_RIGHT]   = { "the {name} on the right", "右边的{name}", "右の{name}" },
  [COCODATA_REF_TOP]     = { "the upper {name}", "上面的{name}", "上の{name}" },
  [COCODATA_REF_BOTTOM]  = { "the lower {name}", "下面的{name}", "下の{name}" },
  [COCODATA_REF_BIGGER]  = { "the bigger {name}", "较大的{name}", "大きい方の{name}" },
  [COCODATA_REF_SMALLER] = { "the smaller {name}", "较小的{name}", "小さい方の{name}" },
  [COCODATA_REF_COLOR]   = { "the {mod} {name}", "{mod}{name}", "{mod}{name}" },
};

#define MAX_VARIANTS 4
typedef const gchar *Templates[COCODATA_N_LANGS][MAX_VARIANTS];

static const Templates replace_t = {
  { "Replace {obj} with {a_new}.", "Change {obj} into {a_new}.",
    "Swap {obj} for {a_new}.", "Turn {obj} into {a_new}." },
  { "把{obj}换成{new}。", "将{obj}替换为{new}。", "用{new}替换{obj}。", "把{obj}变成{new}。" },
  { "{obj}を{new}に置き換えて。", "{obj}を{new}に変えてください。",
    "{obj}の代わりに{new}を置いて。", "{obj}を{new}と入れ替えて。" },
};
static const Templates remove_t = {
  { "Remove {obj}.", "Delete {obj} from the picture.", "Take {obj} out of the image.",
    "Erase {obj}." },
  { "删除{obj}。", "把{obj}去掉。", "移除图中的{obj}。", "把{obj}从画面里擦掉。" },
  { "{obj}を消して。", "{obj}を削除してください。", "画像から{obj}を取り除いて。",
    "{obj}を消去して。" },
};
static const Templates add_t = {
  { "Add {a_new} {place}.", "Put {a_new} {place}.", "Place {a_new} {place}.",
    "Insert {a_new} {place}." },
  { "在{place}添加一个{new}。", "在{place}放一个{new}。", "往{place}加上{new}。",
    "在画面{place}加一个{new}。" },
  { "{place}に{new}を追加して。", "{place}に{new}を置いてください。",
    "{place}に{new}を描き足して。", "{place}に{new}を加えて。" },
};
static const Templates recolor_t = {
  { "Make {obj} {color}.", "Change the color of {obj} to {color}.", "Recolor {obj} {color}.",
    "Paint {obj} {color}." },
  { "把{obj}变成{color}。", "将{obj}的颜色改为{color}。", "把{obj}涂成{color}。",
    "让{obj}变成{color}。" },
  { "{obj}を{color}にして。", "{obj}の色を{color}に変えて。", "{obj}を{color}に塗って。",
    "{obj}を{color}に塗り替えて。" },
};
static const Templates bigger_t = {
  { "Make {obj} bigger.", "Enlarge {obj}.", "Scale {obj} up.", "Increase the size of {obj}." },
  { "把{obj}放大。", "让{obj}变大一些。", "将{obj}放大一点。", "把{obj}变大。" },
  { "{obj}を大きくして。", "{obj}を拡大して。", "{obj}をもっと大きくしてください。",
    "{obj}のサイズを大きくして。" },
};
static const Templates smaller_t = {
  { "Make {obj} smaller.", "Shrink {obj}.", "Scale {obj} down.", "Reduce the size of {obj}." },
  { "把{obj}缩小。", "让{obj}变小一些。", "将{obj}缩小一点。", "把{obj}变小。" },
  { "{obj}を小さくして。", "{obj}を縮小して。", "{obj}をもっと小さくしてください。",
    "{obj}のサイズを小さくして。" },
};
static const Templates move_t = {
  { "Move {obj} {to}.", "Shift {obj} {to}.", "Reposition {obj} {to}.",
    "Drag {obj} {to}." },
  { "把{obj}移到{place}。", "将{obj}挪到{place}。", "把{obj}移动到画面{place}。",
    "让{obj}移到{place}去。" },
  { "{obj}を{place}に移動して。", "{obj}を{place}へ動かして。",
    "{obj}を{place}に移してください。", "{obj}の位置を{place}に変えて。" },
};
static const Templates text_t = {
  { "Change the text \"{old}\" to \"{text}\".", "Replace the word \"{old}\" with \"{text}\".",
    "Make the sign say \"{text}\" instead of \"{old}\".", "Rewrite \"{old}\" as \"{text}\"." },
  { "把文字“{old}”改成“{text}”。", "将牌子上的“{old}”换成“{text}”。",
    "把“{old}”这几个字改为“{text}”。", "让牌子上写“{text}”，而不是“{old}”。" },
  { "「{old}」という文字を「{text}」に変えて。", "看板の「{old}」を「{text}」に書き換えて。",
    "文字を「{old}」から「{text}」に変更して。", "「{old}」を「{text}」に直してください。" },
};

/* Replaces {key} in s by value. */
static void
substitute (GString *s, const gchar *key, const gchar *value)
{
  g_autofree gchar *pat = g_strdup_printf ("{%s}", key);
  gsize from = 0;
  gchar *at;

  if (!value)
    return;
  /* Search after each insertion, so values holding "{key}" cannot loop. */
  while ((at = strstr (s->str + from, pat)) != NULL)
    {
      gssize pos = at - s->str;
      g_string_erase (s, pos, strlen (pat));
      g_string_insert (s, pos, value);
      from = pos + strlen (value);
    }
}

static gchar *
with_article (const gchar *name)
{
  if (!name)
    return NULL;
  return g_strdup_printf ("%s %s", strchr ("aeiouAEIOU", name[0]) ? "an" : "a", name);
}

gchar *
cocodata_instruction_format (const CocodataInstruction *ins, guint variant)
{
  const Templates *t;
  GString *ref, *out;
  g_autofree gchar *a_new = NULL;
  CocodataLang l = ins->lang;

  switch (ins->type)
    {
    case COCODATA_EDIT_REPLACE: t = &replace_t; break;
    case COCODATA_EDIT_REMOVE:  t = &remove_t; break;
    case COCODATA_EDIT_ADD:     t = &add_t; break;
    case COCODATA_EDIT_RECOLOR: t = &recolor_t; break;
    case COCODATA_EDIT_RESIZE:  t = ins->bigger ? &bigger_t : &smaller_t; break;
    case COCODATA_EDIT_MOVE:    t = &move_t; break;
    case COCODATA_EDIT_TEXT:    t = &text_t; break;
    default: g_return_val_if_reached (NULL);
    }

  ref = g_string_new (refs[ins->ref][l]);
  substitute (ref, "name", ins->object);
  if (ins->ref == COCODATA_REF_COLOR)
    substitute (ref, "mod", cocodata_colors[ins->ref_color].modifier[l]);

  out = g_string_new ((*t)[l][variant % MAX_VARIANTS]);
  a_new = l == COCODATA_LANG_EN ? with_article (ins->new_object) : NULL;
  substitute (out, "obj", ref->str);
  substitute (out, "a_new", a_new);
  substitute (out, "new", ins->new_object);
  if (ins->type == COCODATA_EDIT_ADD || ins->type == COCODATA_EDIT_MOVE)
    {
      substitute (out, "place", places[ins->place].at[l]);
      substitute (out, "to", places[ins->place].to[l]);
    }
  if (ins->type == COCODATA_EDIT_RECOLOR)
    substitute (out, "color", cocodata_colors[ins->color].name[l]);
  substitute (out, "old", ins->old_text);
  substitute (out, "text", ins->new_text);
  g_string_free (ref, TRUE);

  /* English sentences start with a capital even after "{obj}" expansion. */
  if (l == COCODATA_LANG_EN && g_ascii_islower (out->str[0]))
    out->str[0] = g_ascii_toupper (out->str[0]);
  return g_string_free (out, FALSE);
}
