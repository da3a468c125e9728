/* test-capi.c — the public C API, from a C program (nothing of C++ may be
 * needed to use it).  Runs on the small random model the build makes
 * (COCOEDIT_TEST_MODEL) and the tiny config (COCOEDIT_TEST_CONFIG). */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>

#include "cocoedit.h"
#include "under-asan.h"

static const gchar *model_dir;
static const gchar *config_path;
static cocoedit_model *model;

/* An RGBA8 image with a row padding of `pad` bytes and a deterministic
 * pattern, so that every pixel differs from its neighbours. */
typedef struct
{
  cocoedit_image img;
  guint8        *buf;
} Image;

static Image
image_new (int w, int h, int pad, cocoedit_pixel_format fmt, guint seed)
{
  Image  im;
  size_t px = fmt == COCOEDIT_RGBA8 ? 4 : fmt == COCOEDIT_RGBA_F32 ? 16 : fmt == COCOEDIT_GRAY8 ? 1 : 4;
  GRand *r = g_rand_new_with_seed (seed);

  im.img.width = w;
  im.img.height = h;
  im.img.format = fmt;
  im.img.stride = (size_t) w * px + pad;
  im.buf = g_malloc0 (im.img.stride * h);
  im.img.data = im.buf;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        guint8 *p = im.buf + (size_t) y * im.img.stride + (size_t) x * px;
        if (fmt == COCOEDIT_RGBA8)
          for (int c = 0; c < 4; c++)
            p[c] = (guint8) g_rand_int_range (r, 0, 256);
        else if (fmt == COCOEDIT_RGBA_F32)
          for (int c = 0; c < 4; c++)
            {
              float v = (float) g_rand_double (r);
              memcpy (p + 4 * c, &v, 4);
            }
      }
  g_rand_free (r);
  return im;
}

static void
image_free (Image *im)
{
  g_clear_pointer (&im->buf, g_free);
}

/* A GRAY8 mask with a rectangle of `value` (and a soft ramp on its left
 * edge when `soft`). */
static Image
mask_rect (int w, int h, int x0, int y0, int x1, int y1, gboolean soft)
{
  Image m = image_new (w, h, 3, COCOEDIT_GRAY8, 0);

  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      {
        int v = 255;
        if (soft && x - x0 < 8)
          v = 32 * (x - x0 + 1) - 1;
        m.buf[(size_t) y * m.img.stride + x] = (guint8) v;
      }
  return m;
}

static cocoedit_edit_params
params (const char *prompt, guint64 seed)
{
  cocoedit_edit_params p = cocoedit_edit_default_params ();

  p.prompt = prompt;
  p.seed = seed;
  p.steps = 3;
  return p;
}

static gboolean
same_rows (const Image *a, const Image *b)
{
  size_t row = (size_t) a->img.width * (a->img.format == COCOEDIT_RGBA8 ? 4 : 16);

  for (int y = 0; y < a->img.height; y++)
    if (memcmp (a->buf + y * a->img.stride, b->buf + y * b->img.stride, row) != 0)
      return FALSE;
  return TRUE;
}

static void
test_version (void)
{
  g_assert_cmpstr (cocoedit_version (), ==, "0.1.0");
  g_assert_cmpstr (cocoedit_status_name (COCOEDIT_ERR_CANCELLED), ==, "cancelled");
  g_assert_nonnull (cocoedit_status_name ((cocoedit_status) 99));
}

static void
test_open_errors (void)
{
  cocoedit_model      *m = (cocoedit_model *) 0x1;
  cocoedit_error       err;
  cocoedit_open_params p = cocoedit_open_default_params ();
  g_autofree gchar    *dir = g_dir_make_tmp ("cocoedit-test-XXXXXX", NULL);

  g_assert_cmpint (cocoedit_model_open ("/nonexistent/model", NULL, &m, &err), ==, COCOEDIT_ERR_IO);
  g_assert_null (m);
  g_assert_nonnull (strstr (err.message, "/nonexistent/model"));

  /* A directory without config.json. */
  g_assert_cmpint (cocoedit_model_open (dir, NULL, &m, &err), ==, COCOEDIT_ERR_IO);
  g_assert_nonnull (strstr (err.message, "config.json"));

  g_assert_cmpint (cocoedit_model_open (NULL, NULL, &m, &err), ==, COCOEDIT_ERR_INVALID_ARGUMENT);
  g_assert_cmpint (cocoedit_model_open (model_dir, NULL, NULL, &err), ==, COCOEDIT_ERR_INVALID_ARGUMENT);

  p.struct_size = 3;
  g_assert_cmpint (cocoedit_model_open (model_dir, &p, &m, &err), ==, COCOEDIT_ERR_INVALID_ARGUMENT);
  p = cocoedit_open_default_params ();
  p.lora_path = config_path; /* not a safetensors file */
  g_assert_cmpint (cocoedit_model_open (model_dir, &p, &m, &err), ==, COCOEDIT_ERR_FORMAT);

  /* The list of LoRAs: each is checked, and the bad one is named. */
  {
    const char *loras[] = { config_path };
    const float scales[] = { NAN };

    p = cocoedit_open_default_params ();
    p.n_loras = 1;
    g_assert_cmpint (cocoedit_model_open (model_dir, &p, &m, &err), ==, COCOEDIT_ERR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (err.message, "lora_paths"));
    p.lora_paths = loras;
    g_assert_cmpint (cocoedit_model_open (model_dir, &p, &m, &err), ==, COCOEDIT_ERR_FORMAT);
    g_assert_nonnull (strstr (err.message, config_path));
    p.lora_scales = scales;
    g_assert_cmpint (cocoedit_model_open (model_dir, &p, &m, &err), ==, COCOEDIT_ERR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (err.message, "not finite"));
    p.n_loras = -1;
    g_assert_cmpint (cocoedit_model_open (model_dir, &p, &m, &err), ==, COCOEDIT_ERR_INVALID_ARGUMENT);
    g_assert_null (m);
  }
  g_rmdir (dir);
}

static void
test_info (void)
{
  cocoedit_model_info info;
  cocoedit_error      err;

  g_assert_cmpint (cocoedit_model_get_info (model, &info, &err), ==, COCOEDIT_OK);
  g_assert_cmpstr (info.architecture, ==, "cocoedit-kontext");
  g_assert_cmpint (info.n_parameters, >, 1000);
  g_assert_cmpint (info.working_size, ==, 32);
  g_assert_cmpint (info.patch_size, ==, 4);
  g_assert_true (info.has_mask_channel);
  g_assert_true (g_str_has_prefix (info.device, "cpu ("));
}

/* Outside the mask the output is the source, byte for byte; inside, the
 * model changed something; alpha is the source's everywhere. */
static void
check_preserved (cocoedit_pixel_format fmt)
{
  const int      W = 97, H = 61;
  Image          src = image_new (W, H, 12, fmt, 1);
  Image          out = image_new (W, H, 12, fmt, 2);
  Image          mask = mask_rect (W, H, 30, 20, 60, 45, TRUE);
  cocoedit_edit_params p = params ("replace the cat with a dog", 42);
  cocoedit_error err;
  size_t         px = fmt == COCOEDIT_RGBA8 ? 4 : 16;
  size_t         ch = px / 4;
  int            changed = 0;

  g_assert_cmpint (cocoedit_edit (model, &src.img, &mask.img, &p, &out.img, &err), ==, COCOEDIT_OK);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      {
        const guint8 *s = src.buf + y * src.img.stride + x * px;
        const guint8 *o = out.buf + y * out.img.stride + x * px;
        guint8        m = mask.buf[y * mask.img.stride + x];

        g_assert_cmpmem (s + 3 * ch, ch, o + 3 * ch, ch); /* alpha */
        if (m == 0)
          g_assert_cmpmem (s, px, o, px);
        else if (memcmp (s, o, 3 * ch) != 0)
          changed++;
      }
  g_assert_cmpint (changed, >, (30 * 25) / 2);
  image_free (&src);
  image_free (&out);
  image_free (&mask);
}

static void
test_preserve_rgba8 (void)
{
  check_preserved (COCOEDIT_RGBA8);
}

static void
test_preserve_float (void)
{
  check_preserved (COCOEDIT_RGBA_F32);
}

/* A soft mask scales the change: |out − src| ≤ m·255 wherever the mask is m
 * (the output is src + m·(edit − src)), and full-strength pixels change. */
static void
test_soft_mask (void)
{
  const int            W = 64, H = 40;
  Image                src = image_new (W, H, 0, COCOEDIT_RGBA8, 3);
  Image                out = image_new (W, H, 0, COCOEDIT_RGBA8, 0);
  Image                m = mask_rect (W, H, 0, 0, W, H, FALSE);
  cocoedit_edit_params p = params ("make it red", 5);
  cocoedit_error       err;
  int                  changed_full = 0;

  /* A horizontal ramp: 0 at the left edge, 255 at the right. */
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      m.buf[y * m.img.stride + x] = (guint8) (x * 255 / (W - 1));
  g_assert_cmpint (cocoedit_edit (model, &src.img, &m.img, &p, &out.img, &err), ==, COCOEDIT_OK);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      for (int c = 0; c < 3; c++)
        {
          int    i = (y * W + x) * 4 + c;
          double mv = m.buf[y * m.img.stride + x];

          g_assert_cmpfloat (fabs ((double) out.buf[i] - src.buf[i]), <=, mv + 0.5);
          changed_full += x == W - 1 && out.buf[i] != src.buf[i];
        }
  g_assert_cmpint (changed_full, >, H);
  image_free (&src);
  image_free (&out);
  image_free (&m);
}

static void
test_determinism (void)
{
  const int            W = 50, H = 40;
  Image                src = image_new (W, H, 4, COCOEDIT_RGBA8, 4);
  Image                a = image_new (W, H, 4, COCOEDIT_RGBA8, 0);
  Image                b = image_new (W, H, 4, COCOEDIT_RGBA8, 0);
  Image                c = image_new (W, H, 4, COCOEDIT_RGBA8, 0);
  cocoedit_edit_params p = params ("把猫换成狗", 7);
  cocoedit_error       err;

  g_assert_cmpint (cocoedit_edit (model, &src.img, NULL, &p, &a.img, &err), ==, COCOEDIT_OK);
  g_assert_cmpint (cocoedit_edit (model, &src.img, NULL, &p, &b.img, &err), ==, COCOEDIT_OK);
  g_assert_true (same_rows (&a, &b));
  p.seed = 8;
  g_assert_cmpint (cocoedit_edit (model, &src.img, NULL, &p, &c.img, &err), ==, COCOEDIT_OK);
  g_assert_false (same_rows (&a, &c));
  /* Another instruction, another result: the text reaches the model. */
  p.seed = 7;
  p.prompt = "猫を犬に置き換えて";
  g_assert_cmpint (cocoedit_edit (model, &src.img, NULL, &p, &c.img, &err), ==, COCOEDIT_OK);
  g_assert_false (same_rows (&a, &c));
  image_free (&src);
  image_free (&a);
  image_free (&b);
  image_free (&c);
}

/* Every rejected request leaves the output as it was. */
static void
expect_rejected (const cocoedit_image       *src,
                 const cocoedit_image       *mask,
                 const cocoedit_edit_params *p,
                 Image                      *out,
                 cocoedit_status             status,
                 const char                 *fragment)
{
  g_autofree guint8 *before = g_memdup2 (out->buf, out->img.stride * out->img.height);
  cocoedit_error     err;

  g_assert_cmpint (cocoedit_edit (model, src, mask, p, &out->img, &err), ==, status);
  g_assert_cmpint (err.code, ==, status);
  if (fragment)
    g_assert_nonnull (strstr (err.message, fragment));
  g_assert_cmpmem (before, out->img.stride * out->img.height, out->buf, out->img.stride * out->img.height);
}

static void
test_bad_input (void)
{
  const int            W = 30, H = 20;
  Image                src = image_new (W, H, 0, COCOEDIT_RGBA8, 5);
  Image                out = image_new (W, H, 0, COCOEDIT_RGBA8, 6);
  Image                small = mask_rect (W - 1, H, 0, 0, 5, 5, FALSE);
  Image                empty = mask_rect (W, H, 0, 0, 0, 0, FALSE);
  cocoedit_edit_params p = params ("make it blue", 1);
  cocoedit_image       rgba_mask = src.img;
  cocoedit_image       narrow = src.img;

  p.prompt = "";
  expect_rejected (&src.img, NULL, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "empty");
  p.prompt = "  \n\t ";
  expect_rejected (&src.img, NULL, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "empty");
  p.prompt = "caf\xc3\x28 au lait";
  expect_rejected (&src.img, NULL, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "UTF-8");
  p.prompt = NULL;
  expect_rejected (&src.img, NULL, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, NULL);
  /* A script the model's text encoder never read (this model: English,
   * Chinese, Japanese) is refused and named; a foreign name among readable
   * words is not. */
  p.prompt = "\xd1\x81\xd0\xb4\xd0\xb5\xd0\xbb\xd0\xb0\xd0\xb9 \xd0\xba\xd0\xbe\xd1\x88\xd0\xba\xd1\x83 "
             "\xd1\x80\xd1\x8b\xd0\xb6\xd0\xb5\xd0\xb9";  /* "сделай кошку рыжей" */
  expect_rejected (&src.img, NULL, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "Cyrillic");
  p.prompt = "\xea\xb3\xa0\xec\x96\x91\xec\x9d\xb4\xeb\xa5\xbc \xec\xa3\xbc\xed\x99\xa9\xec\x83\x89\xec\x9c\xbc\xeb\xa1\x9c";
  expect_rejected (&src.img, NULL, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "Hangul");
  /* Its three languages, accents and a foreign name among them, pass. */
  {
    const char *readable[] = {
      "f\xc3\xa4rbe die Katze rot, bitte (\xd0\x9c\xd1\x83\xd1\x80\xd0\xb7\xd0\xb8\xd0\xba)",
      "\xe6\x8a\x8a\xe7\x8c\xab\xe5\x8f\x98\xe6\x88\x90\xe6\xa9\x99\xe8\x89\xb2",
      "\xe7\x8c\xab\xe3\x82\x92\xe3\x82\xaa\xe3\x83\xac\xe3\x83\xb3\xe3\x82\xb8\xe8\x89\xb2\xe3\x81\xab\xe3\x81\x97\xe3\x81\xa6",
    };
    cocoedit_error err;

    for (gsize i = 0; i < G_N_ELEMENTS (readable); i++)
      {
        p.prompt = readable[i];
        g_assert_cmpint (cocoedit_edit (model, &src.img, NULL, &p, &out.img, &err), ==, COCOEDIT_OK);
      }
  }
  p.prompt = "make it blue";
  expect_rejected (&src.img, &small.img, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "29x20");
  expect_rejected (&src.img, &empty.img, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "mask is empty");
  expect_rejected (&src.img, &rgba_mask, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "GRAY8");
  narrow.stride = 4;
  expect_rejected (&narrow, NULL, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "stride");
  p.strength = 0.0f;
  expect_rejected (&src.img, NULL, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "strength");
  p.strength = NAN;
  expect_rejected (&src.img, NULL, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "strength");
  p.strength = 1.0f;
  p.steps = 5000;
  expect_rejected (&src.img, NULL, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "steps");
  p.steps = 3;
  p.guidance = INFINITY;
  expect_rejected (&src.img, NULL, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "guidance");
  p.guidance = -1.0f;
  p.struct_size = 1;
  expect_rejected (&src.img, NULL, &p, &out, COCOEDIT_ERR_INVALID_ARGUMENT, "struct_size");
  image_free (&src);
  image_free (&out);
  image_free (&small);
  image_free (&empty);
}

/* The context rule is the engine's: an edit of the part it names, with
 * the mask cropped alike, gives the pixels an edit of the whole image
 * gives there (the plug-in reads only that part from GIMP). */
static void
test_context_rect (void)
{
  const int            W = 90, H = 70;
  cocoedit_rect        bounds = { 30, 20, 24, 16 };
  cocoedit_rect        crop;
  cocoedit_error       err;
  Image                src = image_new (W, H, 4, COCOEDIT_RGBA8, 11);
  Image                whole = image_new (W, H, 4, COCOEDIT_RGBA8, 12);
  Image                mask = mask_rect (W, H, 30, 20, 54, 36, TRUE);
  cocoedit_edit_params p = params ("make it green", 5);
  cocoedit_image       part_src, part_mask;
  Image                part;

  g_assert_cmpint (cocoedit_context_rect (&bounds, W, H, -1, &crop, &err), ==, COCOEDIT_OK);
  g_assert_cmpint (crop.x, ==, 24);          /* a quarter of 24: 6 px */
  g_assert_cmpint (crop.y, ==, 14);
  g_assert_cmpint (crop.width, ==, 36);
  g_assert_cmpint (crop.height, ==, 28);
  g_assert_cmpint (cocoedit_context_rect (&bounds, W, H, 100, &crop, &err), ==, COCOEDIT_OK);
  g_assert_true (crop.x == 0 && crop.y == 0 && crop.width == W && crop.height == H);
  g_assert_cmpint (cocoedit_context_rect (&bounds, W, H, G_MAXINT, &crop, &err), ==, COCOEDIT_OK);
  g_assert_true (crop.width == W && crop.height == H);
  bounds.width = 0;
  g_assert_cmpint (cocoedit_context_rect (&bounds, W, H, -1, &crop, &err), ==, COCOEDIT_ERR_INVALID_ARGUMENT);
  bounds = (cocoedit_rect) { 80, 20, 24, 16 };
  g_assert_cmpint (cocoedit_context_rect (&bounds, W, H, -1, &crop, &err), ==, COCOEDIT_ERR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (err.message, "inside the image"));

  bounds = (cocoedit_rect) { 30, 20, 24, 16 };
  g_assert_cmpint (cocoedit_context_rect (&bounds, W, H, -1, &crop, &err), ==, COCOEDIT_OK);
  g_assert_cmpint (cocoedit_edit (model, &src.img, &mask.img, &p, &whole.img, &err), ==, COCOEDIT_OK);

  part_src = src.img;
  part_src.width = crop.width;
  part_src.height = crop.height;
  part_src.data = src.buf + (size_t) crop.y * src.img.stride + 4 * crop.x;
  part_mask = mask.img;
  part_mask.width = crop.width;
  part_mask.height = crop.height;
  part_mask.data = mask.buf + (size_t) crop.y * mask.img.stride + crop.x;
  part = image_new (crop.width, crop.height, 0, COCOEDIT_RGBA8, 13);
  g_assert_cmpint (cocoedit_edit (model, &part_src, &part_mask, &p, &part.img, &err), ==, COCOEDIT_OK);
  for (int y = 0; y < crop.height; y++)
    g_assert_cmpmem (part.buf + (size_t) y * part.img.stride, crop.width * 4,
                     whole.buf + (size_t) (crop.y + y) * whole.img.stride + 4 * crop.x, crop.width * 4);

  image_free (&src);
  image_free (&whole);
  image_free (&mask);
  image_free (&part);
}

typedef struct
{
  int calls;
  int stop_at;
} CancelState;

static bool
cancel_at (int step, int n_steps, void *user_data)
{
  CancelState *s = user_data;

  s->calls++;
  g_assert_cmpint (step, <=, n_steps);
  return step < s->stop_at;
}

static void
test_cancel (void)
{
  const int            W = 30, H = 30;
  Image                src = image_new (W, H, 0, COCOEDIT_RGBA8, 8);
  Image                out = image_new (W, H, 0, COCOEDIT_RGBA8, 9);
  cocoedit_edit_params p = params ("remove the lamp", 3);
  CancelState          s = { 0, 2 };

  p.steps = 6;
  p.progress = cancel_at;
  p.user_data = &s;
  expect_rejected (&src.img, NULL, &p, &out, COCOEDIT_ERR_CANCELLED, "cancel");
  g_assert_cmpint (s.calls, ==, 3); /* steps 0, 1, 2 */

  /* The progress callback sees every step when it does not cancel. */
  s = (CancelState) { 0, 1000 };
  {
    cocoedit_error err;
    g_assert_cmpint (cocoedit_edit (model, &src.img, NULL, &p, &out.img, &err), ==, COCOEDIT_OK);
  }
  g_assert_cmpint (s.calls, ==, 7);
  image_free (&src);
  image_free (&out);
}

static void
test_tiny_image (void)
{
  Image                src = image_new (1, 1, 0, COCOEDIT_RGBA8, 10);
  Image                out = image_new (1, 1, 0, COCOEDIT_RGBA8, 11);
  cocoedit_edit_params p = params ("make it green", 1);
  cocoedit_error       err;

  g_assert_cmpint (cocoedit_edit (model, &src.img, NULL, &p, &out.img, &err), ==, COCOEDIT_OK);
  g_assert_cmpint (out.buf[3], ==, src.buf[3]);
  image_free (&src);
  image_free (&out);
}

static long
peak_rss_kib (void)
{
  struct rusage u;

  getrusage (RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

/* An 8000×6000 image with a small selection: only the crop is worked on,
 * so the edit adds little memory to the two image buffers themselves. */
static void
test_large_image (void)
{
  const int            W = 8000, H = 6000;
  Image                src = { { W, H, COCOEDIT_RGBA8, (size_t) W * 4, NULL }, NULL };
  Image                mask = { { W, H, COCOEDIT_GRAY8, (size_t) W, NULL }, NULL };
  cocoedit_edit_params p = params ("add a red balloon", 2);
  cocoedit_error       err;
  long                 before;

  src.buf = g_malloc ((size_t) W * H * 4);
  for (size_t i = 0; i < (size_t) W * H * 4; i++)
    src.buf[i] = (guint8) (i * 2654435761u >> 24);
  src.img.data = src.buf;
  mask.buf = g_malloc ((size_t) W * H);
  memset (mask.buf, 0, (size_t) W * H); /* touch every page before measuring */
  mask.img.data = mask.buf;
  for (int y = 3000; y < 3100; y++)
    memset (mask.buf + (size_t) y * W + 5000, 255, 120);
  before = peak_rss_kib ();
  /* In place: output aliases the source. */
  g_assert_cmpint (cocoedit_edit (model, &src.img, &mask.img, &p, &src.img, &err), ==, COCOEDIT_OK);
  g_test_message ("peak RSS grew by %ld KiB", peak_rss_kib () - before);
  g_assert_cmpint (peak_rss_kib () - before, <, 64 * 1024);
  g_assert_cmpint (src.buf[0], ==, 0);
  image_free (&src);
  image_free (&mask);
}

/* Save a model (sharded), load it back: same weights, same edit. */
static void
test_round_trip (void)
{
  g_autofree gchar    *dir = g_dir_make_tmp ("cocoedit-rt-XXXXXX", NULL);
  cocoedit_model      *fresh = NULL, *loaded = NULL;
  cocoedit_error       err;
  const int            W = 40, H = 24;
  Image                src = image_new (W, H, 0, COCOEDIT_RGBA8, 12);
  Image                a = image_new (W, H, 0, COCOEDIT_RGBA8, 0);
  Image                b = image_new (W, H, 0, COCOEDIT_RGBA8, 0);
  cocoedit_edit_params p = params ("turn the sky orange", 9);
  g_autoptr (GDir)     d = NULL;
  const gchar         *name;
  int                  shards = 0;

  g_assert_cmpint (cocoedit_model_create_random (config_path, 123, NULL, &fresh, &err), ==, COCOEDIT_OK);
  g_assert_cmpint (cocoedit_model_save (fresh, dir, 256 * 1024, &err), ==, COCOEDIT_OK);
  d = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (d)))
    shards += g_str_has_suffix (name, ".safetensors");
  g_assert_cmpint (shards, >=, 2);
  g_assert_cmpint (cocoedit_model_open (dir, NULL, &loaded, &err), ==, COCOEDIT_OK);
  g_assert_cmpint (cocoedit_edit (fresh, &src.img, NULL, &p, &a.img, &err), ==, COCOEDIT_OK);
  g_assert_cmpint (cocoedit_edit (loaded, &src.img, NULL, &p, &b.img, &err), ==, COCOEDIT_OK);
  g_assert_true (same_rows (&a, &b));

  /* Saving again into the same directory as one file removes the shards. */
  g_assert_cmpint (cocoedit_model_save (fresh, dir, 0, &err), ==, COCOEDIT_OK);
  cocoedit_model_free (loaded);
  g_assert_cmpint (cocoedit_model_open (dir, NULL, &loaded, &err), ==, COCOEDIT_OK);
  g_assert_cmpint (cocoedit_edit (loaded, &src.img, NULL, &p, &b.img, &err), ==, COCOEDIT_OK);
  g_assert_true (same_rows (&a, &b));

  cocoedit_model_free (fresh);
  cocoedit_model_free (loaded);
  image_free (&src);
  image_free (&a);
  image_free (&b);
  {
    g_autoptr (GDir) dd = g_dir_open (dir, 0, NULL);
    while ((name = g_dir_read_name (dd)))
      {
        g_autofree gchar *path = g_build_filename (dir, name, NULL);
        g_remove (path);
      }
  }
  g_rmdir (dir);
}

/* Guidance, image guidance and strength change the result and keep the
 * non-edit region. */
static void
test_controls (void)
{
  const int            W = 32, H = 32;
  Image                src = image_new (W, H, 0, COCOEDIT_RGBA8, 13);
  Image                a = image_new (W, H, 0, COCOEDIT_RGBA8, 0);
  Image                b = image_new (W, H, 0, COCOEDIT_RGBA8, 0);
  cocoedit_edit_params p = params ("make the car red", 4);
  cocoedit_error       err;

  g_assert_cmpint (cocoedit_edit (model, &src.img, NULL, &p, &a.img, &err), ==, COCOEDIT_OK);
  p.guidance = 3.0f;
  p.image_guidance = 1.5f;
  g_assert_cmpint (cocoedit_edit (model, &src.img, NULL, &p, &b.img, &err), ==, COCOEDIT_OK);
  g_assert_false (same_rows (&a, &b));

  /* 0 (and, for older callers, a negative value) is the model's default,
   * as in the plug-in's dialog: the same result as asking for it. */
  {
    cocoedit_model_info info;

    g_assert_cmpint (cocoedit_model_get_info (model, &info, &err), ==, COCOEDIT_OK);
    p.image_guidance = 1.0f;
    p.guidance = info.default_guidance;
    g_assert_cmpint (cocoedit_edit (model, &src.img, NULL, &p, &a.img, &err), ==, COCOEDIT_OK);
    p.guidance = 0.0f;
    g_assert_cmpint (cocoedit_edit (model, &src.img, NULL, &p, &b.img, &err), ==, COCOEDIT_OK);
    g_assert_true (same_rows (&a, &b));
    p.guidance = -1.0f;
    g_assert_cmpint (cocoedit_edit (model, &src.img, NULL, &p, &b.img, &err), ==, COCOEDIT_OK);
    g_assert_true (same_rows (&a, &b));
  }
  p.guidance = 1.0f;
  p.image_guidance = 1.0f;
  p.strength = 0.3f;
  g_assert_cmpint (cocoedit_edit (model, &src.img, NULL, &p, &b.img, &err), ==, COCOEDIT_OK);
  g_assert_false (same_rows (&a, &b));
  image_free (&src);
  image_free (&a);
  image_free (&b);
}

/* FLUX.1 Kontext through the same API: the tiny diffusers-layout folder
 * (COCOEDIT_TEST_KONTEXT) opens with its family detected, lists its four
 * components in their stored dtypes, edits a selection with everything
 * outside it kept byte for byte, and one loaded model serves several edits
 * (same prompt and seed, same bytes, with another prompt in between). */
static void
test_kontext (void)
{
  const gchar         *dir = g_getenv ("COCOEDIT_TEST_KONTEXT");
  const int            W = 80, H = 56;
  cocoedit_open_params op = cocoedit_open_default_params ();
  cocoedit_model      *km = NULL;
  cocoedit_model_info  info;
  cocoedit_component_info comp;
  cocoedit_error       err;
  Image                src = image_new (W, H, 8, COCOEDIT_RGBA8, 5);
  Image                out1 = image_new (W, H, 8, COCOEDIT_RGBA8, 6);
  Image                out2 = image_new (W, H, 8, COCOEDIT_RGBA8, 7);
  Image                mask = mask_rect (W, H, 20, 12, 60, 40, FALSE);
  cocoedit_edit_params p = params ("make the ball blue", 1234);
  int                  changed = 0;

  g_assert_nonnull (dir);
  if (UNDER_ASAN)
    {
      /* t5_tokenizer.cpp: libsentencepiece needs RTLD_DEEPBIND beside libtorch. */
      g_test_skip ("T5's tokenizer does not load under AddressSanitizer");
      g_free (src.buf);
      g_free (out1.buf);
      g_free (out2.buf);
      g_free (mask.buf);
      return;
    }
  op.device = COCOEDIT_DEVICE_CPU;
  g_assert_cmpint (cocoedit_model_open (dir, &op, &km, &err), ==, COCOEDIT_OK);
  g_assert_cmpint (cocoedit_model_get_info (km, &info, &err), ==, COCOEDIT_OK);
  g_assert_cmpstr (info.family, ==, "flux-kontext");
  g_assert_cmpint (info.n_components, ==, 4);
  g_assert_cmpint (info.default_steps, ==, 30);
  g_assert_cmpint (info.patch_size, ==, 16);
  g_assert_cmpint (cocoedit_model_get_component (km, 0, &comp, &err), ==, COCOEDIT_OK);
  g_assert_cmpstr (comp.role, ==, "transformer");
  g_assert_cmpstr (comp.dtype, ==, "bfloat16");
  g_assert_cmpint (cocoedit_model_get_component (km, 4, &comp, &err), ==, COCOEDIT_ERR_INVALID_ARGUMENT);

  p.steps = 2;
  p.working_size = 64;
  g_assert_cmpint (cocoedit_edit (km, &src.img, &mask.img, &p, &out1.img, &err), ==, COCOEDIT_OK);
  /* Another prompt in between: its text features replace the kept ones,
   * and they are encoded again, identically, for the first prompt. */
  p.prompt = "make the ball red";
  g_assert_cmpint (cocoedit_edit (km, &src.img, &mask.img, &p, &out2.img, &err), ==, COCOEDIT_OK);
  g_assert_true (memcmp (out1.buf, out2.buf, (size_t) out1.img.stride * H) != 0);
  /* T5 and CLIP read Latin script: Chinese is refused, naming it. */
  p.prompt = "\xe6\x8a\x8a\xe7\x90\x83\xe5\x8f\x98\xe8\x93\x9d";  /* "把球变蓝" */
  g_assert_cmpint (cocoedit_edit (km, &src.img, &mask.img, &p, &out2.img, &err), ==,
                   COCOEDIT_ERR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (err.message, "Chinese characters"));
  g_assert_nonnull (strstr (err.message, "English"));
  p.prompt = "make the ball blue";
  g_assert_cmpint (cocoedit_edit (km, &src.img, &mask.img, &p, &out2.img, &err), ==, COCOEDIT_OK);
  for (int y = 0; y < H; y++)
    {
      const guint8 *s = src.buf + y * src.img.stride;
      const guint8 *o = out1.buf + y * out1.img.stride;

      g_assert_cmpmem (o, W * 4, out2.buf + y * out2.img.stride, W * 4);
      for (int x = 0; x < W; x++)
        {
          if (mask.buf[y * mask.img.stride + x] == 0)
            g_assert_cmpmem (s + 4 * x, 4, o + 4 * x, 4);
          else
            changed += memcmp (s + 4 * x, o + 4 * x, 3) != 0;
        }
    }
  g_assert_cmpint (changed, >, 0);
  cocoedit_model_free (km);
  g_free (src.buf);
  g_free (out1.buf);
  g_free (out2.buf);
  g_free (mask.buf);
}

int
main (int argc, char **argv)
{
  cocoedit_error       err;
  cocoedit_open_params op = cocoedit_open_default_params ();
  int                  rc;

  g_test_init (&argc, &argv, NULL);
  model_dir = g_getenv ("COCOEDIT_TEST_MODEL");
  config_path = g_getenv ("COCOEDIT_TEST_CONFIG");
  g_assert_nonnull (model_dir);
  g_assert_nonnull (config_path);
  op.device = COCOEDIT_DEVICE_CPU;
  if (cocoedit_model_open (model_dir, &op, &model, &err) != COCOEDIT_OK)
    g_error ("cannot open %s: %s", model_dir, err.message);

  g_test_add_func ("/capi/version", test_version);
  g_test_add_func ("/capi/open-errors", test_open_errors);
  g_test_add_func ("/capi/info", test_info);
  g_test_add_func ("/capi/preserve-rgba8", test_preserve_rgba8);
  g_test_add_func ("/capi/preserve-float", test_preserve_float);
  g_test_add_func ("/capi/soft-mask", test_soft_mask);
  g_test_add_func ("/capi/determinism", test_determinism);
  g_test_add_func ("/capi/bad-input", test_bad_input);
  g_test_add_func ("/capi/context-rect", test_context_rect);
  g_test_add_func ("/capi/cancel", test_cancel);
  g_test_add_func ("/capi/tiny-image", test_tiny_image);
  g_test_add_func ("/capi/large-image", test_large_image);
  g_test_add_func ("/capi/round-trip", test_round_trip);
  g_test_add_func ("/capi/controls", test_controls);
  g_test_add_func ("/capi/kontext", test_kontext);
  rc = g_test_run ();
  cocoedit_model_free (model);
  return rc;
}
