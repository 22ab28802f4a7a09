// gocua web chat page. Plain JavaScript, no dependencies.
// Bot and resident texts are only ever put into the page as text nodes:
// nothing received is parsed as HTML.
(function () {
  'use strict';

  var LOCALE = /*LOCALE*/null;
  var API = '/chat/api/';

  var storage = (function () {
    try {
      var s = window.localStorage;
      s.setItem('gocua.t', '1');
      s.removeItem('gocua.t');
      return s;
    } catch (e) {
      return null; // blocked (third-party iframe, private mode)
    }
  })();
  function load(k) { return storage ? storage.getItem(k) : null; }
  function save(k, v) { if (storage) { try { storage.setItem(k, String(v)); } catch (e) { /* full */ } } }

  var $ = function (id) { return document.getElementById(id); };
  var logEl, statusEl, typingEl, inputEl, sendEl, attachEl, fileEl;
  var MAX_PHOTO = 5 * 1024 * 1024; // bytes; the server refuses more (413)
  var mediaIDRE = /^[0-9a-f]{32}$/;
  var lang = 'vi';
  var rendered = {};   // message id -> element
  var lastSeq = 0;     // highest history sequence number shown
  var outbox = [];     // messages not yet accepted by the server, in order
  var pumping = false;
  var retryDelay = 1000;
  var es = null;
  var reconnectTimer = null;
  var typingTimer = null;
  var memSeq = Date.now();

  function t(key) {
    var l = LOCALE[lang] || LOCALE.vi;
    return l[key] || LOCALE.vi[key] || '';
  }
  function other() { return lang === 'vi' ? 'en' : 'vi'; }

  function applyLang() {
    document.documentElement.lang = lang;
    document.title = t('title');
    $('title').textContent = t('title');
    $('subtitle').textContent = t('subtitle');
    var sw = $('lang-switch');
    sw.textContent = LOCALE[other()].lang_name;
    sw.lang = other();
    inputEl.placeholder = t('placeholder');
    inputEl.setAttribute('aria-label', t('placeholder'));
    sendEl.textContent = t('send');
    attachEl.setAttribute('aria-label', t('attach'));
    attachEl.title = t('attach');
    $('typing-text').textContent = t('typing');
    logEl.setAttribute('aria-label', t('log_label'));
    if (statusEl.dataset.key) { statusEl.textContent = t(statusEl.dataset.key); }
  }

  function setStatus(key, isError) {
    if (!key) {
      statusEl.hidden = true;
      delete statusEl.dataset.key;
      return;
    }
    statusEl.dataset.key = key;
    statusEl.textContent = t(key);
    statusEl.classList.toggle('error', !!isError);
    statusEl.hidden = false;
  }

  // --- rendering ------------------------------------------------------------

  var urlRE = /https?:\/\/[^\s<>"'`]+/g;

  // appendLinked adds s to el as text, turning http(s) links into anchors.
  function appendLinked(el, s) {
    var last = 0, m;
    urlRE.lastIndex = 0;
    while ((m = urlRE.exec(s)) !== null) {
      var url = m[0].replace(/[.,;:!?)\]]+$/, '');
      if (m.index > last) { el.appendChild(document.createTextNode(s.slice(last, m.index))); }
      var a = document.createElement('a');
      a.href = url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      a.textContent = url;
      el.appendChild(a);
      last = m.index + url.length;
      urlRE.lastIndex = last;
    }
    if (last < s.length) { el.appendChild(document.createTextNode(s.slice(last))); }
  }

  // renderText adds the flow text format to el: **bold** spans; an unpaired
  // "**" stays literal.
  function renderText(el, text) {
    var parts = String(text).split('**');
    for (var i = 0; i < parts.length; i++) {
      var bold = i % 2 === 1;
      if (bold && i === parts.length - 1) {
        appendLinked(el, '**' + parts[i]);
        continue;
      }
      if (bold) {
        var b = document.createElement('b');
        appendLinked(b, parts[i]);
        el.appendChild(b);
      } else {
        appendLinked(el, parts[i]);
      }
    }
  }

  function isSafeURL(u) { return /^https?:\/\//i.test(u); }

  function renderButtons(rows) {
    var box = document.createElement('div');
    box.className = 'buttons';
    rows.forEach(function (row) {
      var r = document.createElement('div');
      r.className = 'row';
      row.forEach(function (b) {
        var el;
        if (b.u) {
          if (!isSafeURL(b.u)) { return; }
          el = document.createElement('a');
          el.className = 'btn link';
          el.href = b.u;
          el.target = '_blank';
          el.rel = 'noopener noreferrer';
          el.title = t('new_tab');
          el.textContent = b.t;
        } else {
          el = document.createElement('button');
          el.type = 'button';
          el.className = 'btn';
          el.textContent = b.t;
          el.addEventListener('click', function () { tap(b.d, b.t); });
        }
        r.appendChild(el);
      });
      box.appendChild(r);
    });
    return box;
  }

  // addPhoto puts a message's photo (served by /chat/media/<id>) at the top
  // of its bubble, once; the id is checked, so nothing else becomes a URL.
  function addPhoto(el, m) {
    if (!m.media || !mediaIDRE.test(m.media.id) || el.querySelector('img.photo')) { return; }
    var bubble = el.querySelector('.bubble');
    var wait = bubble.querySelector('.sending');
    if (wait) { bubble.removeChild(wait); }
    var img = document.createElement('img');
    img.className = 'photo';
    img.src = '/chat/media/' + m.media.id;
    img.alt = m.text ? m.text : t(m.from === 'me' ? 'photo_mine' : 'photo_theirs');
    img.decoding = 'async';
    img.addEventListener('load', function () { if (nearBottom()) { scrollDown(); } });
    bubble.insertBefore(img, bubble.firstChild);
  }

  // addNote shows a notice the server names (why a file is not shown).
  function addNote(el, key) {
    if (!key || !t(key) || el.querySelector('.note')) { return; }
    var n = document.createElement('div');
    n.className = 'note';
    n.textContent = t(key);
    el.appendChild(n);
  }

  function nearBottom() { return logEl.scrollHeight - logEl.scrollTop - logEl.clientHeight < 120; }
  function scrollDown() { logEl.scrollTop = logEl.scrollHeight; }

  // show adds one message (from the history, the stream or the composer) once.
  function show(m) {
    var el = rendered[m.id];
    if (el) {
      if (m.seq) { el.classList.remove('pending'); }
      addPhoto(el, m); // a photo being sent gets its picture once the server has it
      return;
    }
    var stick = nearBottom();
    el = document.createElement('div');
    el.className = 'msg ' + (m.from === 'me' ? 'me' : 'bot') + (m.pending ? ' pending' : '');
    el.dataset.id = m.id;
    var bubble = document.createElement('div');
    bubble.className = 'bubble';
    bubble.setAttribute('aria-label', m.from === 'me' ? t('me') : t('bot'));
    if (m.sending) {
      var wait = document.createElement('span');
      wait.className = 'sending';
      wait.textContent = t('photo_sending');
      bubble.appendChild(wait);
    }
    var caption = document.createElement('span');
    caption.className = 'caption';
    renderText(caption, m.text || '');
    bubble.appendChild(caption);
    el.appendChild(bubble);
    addPhoto(el, m);
    addNote(el, m.note);
    if (m.buttons && m.buttons.length) { el.appendChild(renderButtons(m.buttons)); }
    logEl.appendChild(el);
    rendered[m.id] = el;
    if (m.from !== 'me') { typing(false); }
    if (stick || m.from === 'me') { scrollDown(); }
  }

  function receive(m) {
    if (m.seq > lastSeq) { lastSeq = m.seq; }
    show(m);
  }

  function typing(on) {
    clearTimeout(typingTimer);
    typingEl.hidden = !on;
    if (on) {
      typingTimer = setTimeout(function () { typingEl.hidden = true; }, 20000);
      if (nearBottom()) { scrollDown(); }
    }
  }

  // --- sending ----------------------------------------------------------------

  function newID() {
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x < 16 ? '0' : '') + x.toString(16); }).join('');
  }

  // nextSeq is the visitor's increasing message counter, kept across reloads.
  function nextSeq() {
    if (!storage) { return ++memSeq; }
    var n = parseInt(load('gocua.seq') || '0', 10);
    n = (isFinite(n) && n > 0 ? n : 0) + 1;
    save('gocua.seq', n);
    return n;
  }

  // send queues one message; the queue is sent in order and retried until the
  // server takes it (a retry reuses the id, so it is handled once).
  function send(body, shown) {
    body.id = newID();
    body.seq = nextSeq();
    if (shown && !body.silent) { show({ id: body.id, from: 'me', text: shown, pending: true }); }
    outbox.push(body);
    typing(true);
    pump();
  }

  function tap(data, label) {
    var m = /^lang:(vi|en)$/.exec(data);
    if (m) { setLang(m[1]); }
    send({ data: data, label: label }, label);
  }

  function failed(id, key) {
    var el = rendered[id];
    if (!el) { return; }
    el.classList.remove('pending');
    el.classList.add('failed');
    var n = document.createElement('div');
    n.className = 'note';
    n.textContent = t(key);
    el.appendChild(n);
    typing(false);
  }

  function pump() {
    if (pumping || !outbox.length) { return; }
    pumping = true;
    var item = outbox[0];
    var again = function (ms) {
      pumping = false;
      setTimeout(pump, ms);
    };
    var req;
    if (item.file) { // a photo: multipart, with the same id and seq rules
      var form = new FormData();
      form.append('id', item.id);
      form.append('seq', String(item.seq));
      form.append('file', item.file);
      req = { method: 'POST', credentials: 'same-origin', body: form };
    } else {
      req = {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(item)
      };
    }
    fetch(API + (item.file ? 'upload' : 'send'), req).then(function (r) {
      if (r.ok) {
        outbox.shift();
        retryDelay = 1000;
        if (statusEl.dataset.key === 'slow_down') { setStatus(null); }
        var el = rendered[item.id];
        if (el) { el.classList.remove('pending'); }
        pumping = false;
        pump();
        return;
      }
      var after = parseInt(r.headers.get('Retry-After') || '', 10);
      if (r.status === 429 || r.status >= 500) {
        if (r.status === 429) { setStatus('slow_down'); }
        again(isFinite(after) && after > 0 ? after * 1000 : retryDelay);
        retryDelay = Math.min(retryDelay * 2, 15000);
        return;
      }
      outbox.shift();
      var why = r.status === 413 ? 'too_long' : 'failed';
      if (item.file) { why = r.status === 413 ? 'photo_too_big' : r.status === 415 ? 'photo_bad_type' : 'failed'; }
      failed(item.id, why);
      pumping = false;
      pump();
    }, function () {
      setStatus('offline', true);
      again(retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    });
  }

  // --- receiving --------------------------------------------------------------

  function connect() {
    clearTimeout(reconnectTimer);
    if (es) { es.close(); }
    es = new EventSource(API + 'events?since=' + lastSeq);
    es.addEventListener('message', function (e) {
      var m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      receive(m);
    });
    es.onopen = function () {
      if (statusEl.dataset.key === 'offline') { setStatus(null); }
      retryDelay = 1000;
      pump();
    };
    es.onerror = function () {
      setStatus('offline', true);
      if (es.readyState === EventSource.CLOSED) { // the browser gave up: start again
        reconnectTimer = setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 15000);
      }
    };
  }

  function reconnectIfNeeded() {
    if (!es || es.readyState !== EventSource.OPEN) { connect(); }
    pump();
  }

  function setLang(l) {
    lang = l;
    save('gocua.lang', l);
    applyLang();
  }

  // posterArea is the ward code of the page's ?area= (a QR poster's
  // link), or '' when there is none or it is not a code.
  function posterArea() {
    var m = /[?&]area=([a-z0-9_]{1,64})(?:&|$)/.exec(location.search.toLowerCase());
    return m ? m[1] : '';
  }

  function start() {
    logEl = $('log'); statusEl = $('status'); typingEl = $('typing');
    inputEl = $('input'); sendEl = $('send');
    attachEl = $('attach'); fileEl = $('file');
    var saved = load('gocua.lang');
    lang = saved === 'vi' || saved === 'en' ? saved : (document.documentElement.lang === 'en' ? 'en' : 'vi');
    applyLang();

    $('composer').addEventListener('submit', function (e) {
      e.preventDefault();
      var text = inputEl.value.trim();
      if (!text) { return; }
      if (text.length > 2000) { setStatus('too_long', true); return; }
      if (statusEl.dataset.key === 'too_long') { setStatus(null); }
      inputEl.value = '';
      inputEl.style.height = '';
      send({ text: text }, text);
      inputEl.focus();
    });
    inputEl.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        $('composer').requestSubmit();
      }
    });
    inputEl.addEventListener('input', function () {
      inputEl.style.height = '';
      inputEl.style.height = Math.min(inputEl.scrollHeight + 4, 160) + 'px';
    });
    attachEl.addEventListener('click', function () { fileEl.click(); });
    fileEl.addEventListener('change', function () {
      var f = fileEl.files && fileEl.files[0];
      fileEl.value = '';
      if (!f) { return; }
      if (f.size > MAX_PHOTO) { setStatus('photo_too_big', true); return; }
      if (f.size === 0 || (f.type && !/^image\//.test(f.type))) { setStatus('photo_bad_type', true); return; }
      if (statusEl.dataset.key === 'photo_too_big' || statusEl.dataset.key === 'photo_bad_type') { setStatus(null); }
      var body = { file: f, id: newID(), seq: nextSeq() };
      show({ id: body.id, from: 'me', text: '', pending: true, sending: true });
      outbox.push(body);
      typing(true);
      pump();
    });
    $('lang-switch').addEventListener('click', function () {
      var l = other();
      tap('lang:' + l, LOCALE[l].lang_name);
    });
    window.addEventListener('online', reconnectIfNeeded);
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) { reconnectIfNeeded(); }
    });

    fetch(API + 'history?since=0', { credentials: 'same-origin' })
      .then(function (r) {
        if (!r.ok) { throw new Error('history ' + r.status); }
        return r.json();
      })
      .then(function (d) {
        var msgs = d.messages || [];
        msgs.forEach(receive);
        scrollDown();
        // a ward's QR poster opens /chat?area=<code>: the first message
        // names the ward (a returning visitor's, once per poster scanned)
        var area = posterArea();
        if (!msgs.length) {
          send({ text: '/start' + (area ? ' ' + area : ''), silent: true }, null);
        } else if (area && load('gocua.area') !== area) {
          send({ text: '/start ' + area, silent: true }, null);
        }
        if (area) { save('gocua.area', area); }
        connect();
      }, function () {
        connect(); // the stream replays the history too
      });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
