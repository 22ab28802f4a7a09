// gocua chat widget. A ward website adds
//   <script src="https://bot.example/chat/widget.js" async></script>
// and gets a floating button that opens the chat in an iframe. Optional
// attributes on the script tag: data-lang="en".
(function () {
  'use strict';
  if (window.__gocuaWidget) { return; }
  window.__gocuaWidget = true;

  var LOCALE = /*LOCALE*/null;
  var script = document.currentScript;
  if (!script) {
    var all = document.getElementsByTagName('script');
    for (var i = 0; i < all.length; i++) {
      if (/\/chat\/widget\.js(\?|$)/.test(all[i].src)) { script = all[i]; }
    }
  }
  if (!script) { return; }
  var base = new URL(script.src, window.location.href);
  var lang = script.getAttribute('data-lang') ||
    ((document.documentElement.lang || '').slice(0, 2) === 'en' ? 'en' : 'vi');
  var L = LOCALE[lang] || LOCALE.vi;

  function css(el, styles) {
    for (var k in styles) { if (Object.prototype.hasOwnProperty.call(styles, k)) { el.style[k] = styles[k]; } }
    return el;
  }

  function mount() {
    var host = document.createElement('div');
    host.setAttribute('data-gocua-widget', '');
    document.body.appendChild(host);
    var root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;
    var font = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif';

    var open = css(document.createElement('button'), {
      position: 'fixed', right: '16px', bottom: '16px', zIndex: '2147483000',
      minHeight: '56px', padding: '12px 20px', font: '700 19px/1.2 ' + font,
      color: '#fff', background: '#0b5cab', border: '0', borderRadius: '28px',
      boxShadow: '0 4px 16px rgba(0,0,0,.25)', cursor: 'pointer'
    });
    open.type = 'button';
    open.textContent = L.widget_open;
    open.setAttribute('aria-haspopup', 'dialog');

    var panel = css(document.createElement('div'), {
      position: 'fixed', right: '16px', bottom: '16px', zIndex: '2147483001',
      width: 'min(420px, calc(100vw - 32px))', height: 'min(680px, calc(100vh - 32px))',
      display: 'none', flexDirection: 'column', background: '#fff', borderRadius: '16px',
      boxShadow: '0 8px 32px rgba(0,0,0,.3)', overflow: 'hidden'
    });
    panel.setAttribute('role', 'dialog');
    panel.setAttribute('aria-label', L.title);
    var close = css(document.createElement('button'), {
      flex: 'none', minHeight: '48px', font: '700 18px/1.2 ' + font, color: '#0b3f78',
      background: '#e3eefa', border: '0', cursor: 'pointer'
    });
    close.type = 'button';
    close.textContent = L.widget_close;
    panel.appendChild(close);

    var frame = null;
    function small() { return window.matchMedia && window.matchMedia('(max-width: 600px)').matches; }
    function show(on) {
      if (on && !frame) {
        frame = css(document.createElement('iframe'), { flex: '1', width: '100%', border: '0' });
        frame.title = L.title;
        frame.src = new URL('/chat?embed=1&lang=' + lang, base).href;
        panel.appendChild(frame);
      }
      if (on && small()) {
        css(panel, { right: '0', bottom: '0', width: '100vw', height: '100%', borderRadius: '0' });
      }
      panel.style.display = on ? 'flex' : 'none';
      open.style.display = on ? 'none' : 'block';
      (on ? close : open).focus();
    }
    open.addEventListener('click', function () { show(true); });
    close.addEventListener('click', function () { show(false); });
    root.appendChild(open);
    root.appendChild(panel);
  }

  if (document.body) { mount(); } else { document.addEventListener('DOMContentLoaded', mount); }
})();
