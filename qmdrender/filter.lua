-- filter.lua: the Quarto features of qmdrender (the fallback renderer), for HTML and Typst.
--
-- * figure / table divs (`::: {#fig-x}` ... last paragraph or a `.render-caption` div = caption),
-- * numbering of `fig-*` figures and `tbl-*` tables in document order, "Figure N: caption",
-- * cross-references `@fig-x`, `[@tbl-x]`, `-@fig-x`, `@Fig-x` -> "Figure N" linked to the target,
--   other citations -> left to citeproc with a bibliography, else their text; unknown fig/tbl/sec/eq
--   references -> "?@id",
-- * callouts (`.callout-note|tip|important|warning|caution`),
-- * `.content-visible` / `.content-hidden` with `when-format` / `unless-format`,
-- * `fig-alt` on images, absolute image paths for Typst (compiled with root "/"),
-- * `author` given as a list of `name:` maps,
-- * HTML tables in a scrolling box, their cells labelled with their column's name (cards on a narrow screen).
-- Words ("Figure", "Note", ...) come from `render-*` metadata set by qmdrender/pandoc.py.

local stringify = pandoc.utils.stringify
local is_typst = FORMAT:match('typst') ~= nil
local is_html = FORMAT:match('html') ~= nil

local words = {
  fig = 'Figure', tbl = 'Table', ['fig-prefix'] = 'Figure', ['tbl-prefix'] = 'Table', ['title-delim'] = ':',
  note = 'Note', tip = 'Tip', important = 'Important', warning = 'Warning', caution = 'Caution',
}
local callout_kinds = { note = true, tip = true, important = true, warning = true, caution = true }
local xref_prefixes = { fig = true, tbl = true, sec = true, eq = true, lst = true, thm = true,
  lem = true, cor = true, prp = true, cnj = true, def = true, exm = true, exr = true }

local labels = {}                 -- id -> { kind = 'fig'|'tbl', num = n }
local counters = { fig = 0, tbl = 0 }

local function warn(msg)
  io.stderr:write('[render] ' .. msg .. '\n')
end

local function kind_of(id)
  if id == nil or id == '' then return nil end
  return id:match('^(fig)%-') or id:match('^(tbl)%-')
end

local function register(id, kind)
  if labels[id] then
    warn('duplicate label #' .. id)
    return labels[id].num
  end
  counters[kind] = counters[kind] + 1
  labels[id] = { kind = kind, num = counters[kind] }
  return counters[kind]
end

-- Prefix the caption blocks with "Figure N:" (or just "Figure N" when the caption is empty).
local function prefix_caption(blocks, kind, num)
  local head = words[kind] .. '\u{a0}' .. num
  local out = pandoc.Blocks{}
  for _, b in ipairs(blocks) do
    if b.t == 'Para' then out:insert(pandoc.Plain(b.content)) else out:insert(b) end
  end
  -- HTML styles the label with CSS (.caption-label); Typst has no classes, so make it bold there
  local function label_of(text)
    local inl = pandoc.Inlines(text)
    if is_typst then inl = pandoc.Inlines{ pandoc.Strong(inl) } end
    return pandoc.Span(inl, { class = 'caption-label' })
  end
  if #out == 0 or stringify(out) == '' then
    return pandoc.Blocks{ pandoc.Plain{ label_of(head) } }
  end
  -- Quarto's crossref title-delim: ":" by default ("Table 1: ..."), "—" in Russian documents ("Таблица 1 — ...")
  local delim = words['title-delim']
  local label = label_of(head .. ((delim:match('^%p') and delim ~= '—' and delim ~= '–') and delim or ('\u{a0}' .. delim)))
  if out[1].t == 'Plain' then
    local content = pandoc.Inlines{ label, pandoc.Space() }
    content:extend(out[1].content)
    out[1] = pandoc.Plain(content)
  else
    out:insert(1, pandoc.Plain{ label })
  end
  return out
end

local function caption_blocks(blocks)
  local out = pandoc.Blocks{}
  for _, b in ipairs(blocks or {}) do
    if b.t == 'Para' then out:insert(pandoc.Plain(b.content)) else out:insert(b) end
  end
  return out
end

-- Images: alt text from fig-alt (or the figure caption) for HTML; absolute paths for Typst.
local function fix_images(blocks, default_alt)
  return blocks:walk{
    Image = function(img)
      local alt = img.attributes['fig-alt']
      img.attributes['fig-alt'] = nil
      if alt and alt ~= '' then
        img.caption = pandoc.Inlines(alt)
      elseif #img.caption == 0 and default_alt and default_alt ~= '' then
        img.caption = pandoc.Inlines(default_alt)
      end
      return img
    end,
    -- an implicit figure inside a figure div: keep only its content
    Figure = function(fig) return fig.content end,
  }
end

local function find_first_table(blocks)
  for i, b in ipairs(blocks) do
    if b.t == 'Table' then return blocks, i end
    if b.t == 'Div' then
      local inner, j = find_first_table(b.content)
      if inner then return inner, j end
    end
  end
  return nil
end

-- Pass 1: figure/table divs, implicit figures and captioned tables, numbered in document order.
local function number_blocks(doc)
  return doc:walk{
    Figure = function(fig)
      local kind = kind_of(fig.identifier)
      if kind then
        local num = register(fig.identifier, kind)
        local plain = stringify(fig.caption.long)
        fig.caption.long = prefix_caption(fig.caption.long, kind, num)
        fig.content = fix_images(pandoc.Blocks(fig.content), plain)
      end
      return fig
    end,
    Table = function(tbl)
      local kind = kind_of(tbl.identifier)
      if kind == 'tbl' then
        local num = register(tbl.identifier, 'tbl')
        tbl.caption.long = prefix_caption(tbl.caption.long, 'tbl', num)
      end
      return tbl
    end,
    Div = function(div)
      local kind = kind_of(div.identifier)
      local is_fig = kind == 'fig' or div.classes:includes('render-figure')
      local is_tbl = kind == 'tbl' or div.classes:includes('render-table')
      if not (is_fig or is_tbl) then return nil end
      local content = pandoc.Blocks{}
      local caption = nil
      for _, b in ipairs(div.content) do
        if b.t == 'Div' and b.classes:includes('render-caption') then
          caption = b.content
        else
          content:insert(b)
        end
      end
      if caption == nil and kind and #content > 1 and content[#content].t == 'Para' then
        caption = pandoc.Blocks{ content[#content] }   -- Quarto: the last paragraph is the caption
        content:remove(#content)
      end
      caption = caption_blocks(caption)
      local id = div.identifier
      if is_tbl then
        local holder, idx = find_first_table(content)
        if holder then
          local tbl = holder[idx]
          tbl.identifier = id
          if kind then
            local num = register(id, 'tbl')
            tbl.caption.long = prefix_caption(caption, 'tbl', num)
          else
            tbl.caption.long = caption
          end
          holder[idx] = tbl
          return content
        end
      end
      local plain = stringify(caption)
      if kind then
        caption = prefix_caption(caption, kind, register(id, kind))
      end
      content = fix_images(content, plain)
      return pandoc.Figure(content, { long = caption }, pandoc.Attr(id, { is_tbl and 'render-table' or 'render-figure' }, {}))
    end,
  }
end

-- Pass 2 helpers ----------------------------------------------------------------------------

local function xref(citation)
  local id = citation.id
  local entry = labels[id]
  if not entry then
    local lower = id:sub(1, 1):lower() .. id:sub(2)
    entry = labels[lower]
    if entry then id = lower end
  end
  if not entry then return nil end
  local text
  if citation.mode == 'SuppressAuthor' then
    text = tostring(entry.num)
  else
    text = words[entry.kind .. '-prefix'] .. '\u{a0}' .. entry.num
  end
  local inlines = pandoc.Inlines{ pandoc.Link(pandoc.Inlines(text), '#' .. id, '', { class = 'quarto-xref' }) }
  if #citation.prefix > 0 then
    local pre = pandoc.Inlines(citation.prefix)
    pre:insert(pandoc.Space())
    pre:extend(inlines)
    inlines = pre
  end
  if #citation.suffix > 0 then inlines:extend(citation.suffix) end
  return inlines
end

-- With a bibliography, citeproc (run after this filter) formats the real citations; without, they stay text.
local has_bibliography = false

local function cite(c)
  local out = pandoc.Inlines{}
  local any_xref = false
  local others = pandoc.List{}
  for i, citation in ipairs(c.citations) do
    local r = xref(citation)
    if r then
      any_xref = true
    else
      local prefix = citation.id:match('^(%a+)%-')
      if prefix and xref_prefixes[prefix:lower()] then
        warn('unresolved cross-reference @' .. citation.id)
        r = pandoc.Inlines{ pandoc.Strong{ pandoc.Str('?@' .. citation.id) } }
        any_xref = true
      end
    end
    if r then
      if #out > 0 then out:extend{ pandoc.Str(','), pandoc.Space() } end
      out:extend(r)
    else
      others:insert(citation)
    end
  end
  if not any_xref then   -- real citations only: for citeproc, or their text as written
    if has_bibliography then return nil end
    return c.content
  end
  if #others > 0 and has_bibliography then   -- [@fig-a; @smith2020]: the reference, then the citation
    out:extend{ pandoc.Str(';'), pandoc.Space(), pandoc.Cite(pandoc.Inlines{}, others) }
  end
  if #out == 0 then return c.content end
  return out
end

local function format_matches(spec)
  if spec == nil then return nil end
  for name in spec:gmatch('[^%s,]+') do
    if name == 'html' or name == 'html5' or name == 'html:js' then
      if is_html then return true end
    elseif name == 'typst' or name == 'pdf' then
      if is_typst then return true end
    elseif FORMAT == name then
      return true
    end
  end
  return false
end

local function visible(el)
  local when, unless = el.attributes['when-format'], el.attributes['unless-format']
  if el.classes:includes('content-visible') then
    if when and not format_matches(when) then return false end
    if unless and format_matches(unless) then return false end
  elseif el.classes:includes('content-hidden') then
    if when and format_matches(when) then return false end
    if unless == nil and when == nil then return false end
    if unless and not format_matches(unless) then return false end
  end
  return true
end

local function to_typst_inline(inlines)
  local text = pandoc.write(pandoc.Pandoc{ pandoc.Plain(inlines) }, 'typst')
  return (text:gsub('%s+$', ''))
end

local function callout(div, kind)
  local content = pandoc.Blocks(div.content)
  local title
  if div.attributes.title and div.attributes.title ~= '' then
    local parsed = pandoc.read(div.attributes.title, 'markdown').blocks
    title = (#parsed > 0 and parsed[1].content) or pandoc.Inlines(div.attributes.title)
  elseif #content > 0 and content[1].t == 'Header' then
    title = content[1].content
    content:remove(1)
  else
    title = pandoc.Inlines(words[kind])
  end
  if is_typst then
    local out = pandoc.Blocks{ pandoc.RawBlock('typst', '#callout(kind: "' .. kind .. '", title: [' .. to_typst_inline(title) .. '])[') }
    out:extend(content)
    out:insert(pandoc.RawBlock('typst', ']'))
    return out
  end
  local head = pandoc.Div({ pandoc.Plain(title) }, { class = 'callout-title' })
  local body = pandoc.Div(content, { class = 'callout-body' })
  return pandoc.Div({ head, body }, pandoc.Attr(div.identifier, { 'callout', 'callout-' .. kind }, {}))
end

local function strip_visibility(el)
  local keep = pandoc.List{}
  for _, cls in ipairs(el.classes) do
    if cls ~= 'content-visible' and cls ~= 'content-hidden' then keep:insert(cls) end
  end
  if #keep == 0 and el.identifier == '' then return nil end   -- nothing left: unwrap
  el.classes = keep
  el.attributes['when-format'] = nil
  el.attributes['unless-format'] = nil
  return el
end

local function block_div(div)
  if not visible(div) then return {} end
  for _, cls in ipairs(div.classes) do
    local kind = cls:match('^callout%-(%a+)$')
    if kind and callout_kinds[kind] then return callout(div, kind) end
  end
  if div.classes:includes('content-visible') or div.classes:includes('content-hidden') then
    return strip_visibility(div) or div.content
  end
  return nil
end

-- A table of at least this many columns is shown as one card per row on a narrow screen (style.css): every
-- cell with its column's name, so that no column hides behind a sideways scroll.
local min_stacked_columns = 3

-- The header row's text of each column (for the cards of a narrow screen).
local function column_names(tbl)
  local names = {}
  local rows = tbl.head.rows
  if #rows == 0 then return names end
  for i, cell in ipairs(rows[#rows].cells) do names[i] = stringify(cell.contents) end
  return names
end

-- HTML tables: caption above and outside a horizontally scrolling box, so wide tables scroll
-- without hiding their caption; cells carry their column's name for the narrow-screen cards.
local function html_table(tbl)
  local id = tbl.identifier
  local cap = tbl.caption.long
  local has_cap = #cap > 0 and stringify(cap) ~= ''
  tbl.identifier = ''
  if has_cap then tbl.caption.long = pandoc.Blocks{} end
  local names = column_names(tbl)
  local stacked = #tbl.colspecs >= min_stacked_columns and #names > 0
  if stacked then
    for _, body in ipairs(tbl.bodies) do
      for _, row in ipairs(body.body) do
        for i, cell in ipairs(row.cells) do
          if names[i] and names[i] ~= '' then cell.attributes['data-label'] = names[i] end
        end
      end
    end
  end
  local scroll = pandoc.Div({ tbl }, { class = stacked and 'table-scroll table-stack' or 'table-scroll' })
  if not has_cap and id == '' then return scroll end
  local content = pandoc.Blocks{}
  if has_cap then content:insert(pandoc.Div(cap, { class = 'table-caption' })) end
  content:insert(scroll)
  return pandoc.Div(content, pandoc.Attr(id, { 'table-figure' }, {}))
end

local function inline_span(span)
  if not visible(span) then return {} end
  if span.classes:includes('content-visible') or span.classes:includes('content-hidden') then
    return strip_visibility(span) or span.content
  end
  return nil
end

local function absolute_image(img)
  local src = img.src
  if not src:match('^%a[%w+.-]*:') and not src:match('^/') then
    img.src = pandoc.path.normalize(pandoc.path.join{ pandoc.system.get_working_directory(), src })
  end
  return img
end

local function fix_meta(meta)
  local keys = { fig = 'render-fig-title', tbl = 'render-tbl-title', ['fig-prefix'] = 'render-fig-prefix',
    ['tbl-prefix'] = 'render-tbl-prefix', ['title-delim'] = 'render-title-delim' }
  for kind, _ in pairs(callout_kinds) do keys[kind] = 'render-callout-' .. kind end
  for key, meta_key in pairs(keys) do
    local v = meta[meta_key]
    if v ~= nil then words[key] = stringify(v) end
    meta[meta_key] = nil
  end
  -- authors as a list of maps with `name` (Quarto style) -> names
  local author = meta.author
  if author ~= nil then
    local list = (pandoc.utils.type(author) == 'List') and author or { author }
    local changed = false
    local names = pandoc.List{}
    for _, a in ipairs(list) do
      if pandoc.utils.type(a) == 'table' and a.name ~= nil then
        names:insert(a.name)
        changed = true
      else
        names:insert(a)
      end
    end
    if changed then meta.author = names end
  end
  return meta
end

function Pandoc(doc)
  doc.meta = fix_meta(doc.meta)
  has_bibliography = doc.meta.bibliography ~= nil or doc.meta.references ~= nil
  -- visibility first, so hidden content is neither numbered nor referenced
  doc = doc:walk{ Div = function(div) if not visible(div) then return {} end end,
                  Span = function(span) if not visible(span) then return {} end end }
  doc = number_blocks(doc)
  local pass2 = { Cite = cite, Div = block_div, Span = inline_span }
  if is_typst then pass2.Image = absolute_image end
  if is_html then pass2.Table = html_table end
  doc = doc:walk(pass2)
  if is_html then
    -- images outside figures: fig-alt -> alt
    doc = doc:walk{ Image = function(img)
      local alt = img.attributes['fig-alt']
      if alt then
        img.attributes['fig-alt'] = nil
        img.caption = pandoc.Inlines(alt)
      end
      return img
    end }
  else
    doc = doc:walk{ Image = function(img) img.attributes['fig-alt'] = nil return img end }
  end
  return doc
end
