/*
 * A FAKE Pure Chat widget for chatstream's demo page and tests; not Pure Chat's code. It
 * behaves as real embeds show the real one does (../shared/docs/SOURCES.md part 3):
 * `new PCWidget({c, f})` builds `#PureChatWidget`, replays the stub's queue
 * `window.purechatApi.l` in order, installs a live `on` plus `get` / `set`, then fires
 * `chatbox:ready` (no args). Events and their args follow SOURCES.md 3.3.
 * `window.PCDemo` drives it: availability, chats, offline e-mails, autoplay, and `fired`.
 */
(() => {
  'use strict';
  const positions = {
    bottomLeft: 'purechat-bottom-left',
    bottomRight: 'purechat-bottom-right',
    topLeft: 'purechat-top-left',
    topRight: 'purechat-top-right',
  };
  const visitorFields = ['name', 'firstName', 'lastName', 'email', 'phoneNumber', 'company', 'question'];
  const css = `
#PureChatWidget{position:fixed;z-index:9999;width:300px;font:14px/1.4 system-ui,sans-serif;color:#1f2933;
  background:#fff;border-radius:10px;box-shadow:0 6px 24px rgba(0,0,0,.18);overflow:hidden}
#PureChatWidget.purechat-bottom-right{right:20px;bottom:20px}#PureChatWidget.purechat-bottom-left{left:20px;bottom:20px}
#PureChatWidget.purechat-top-right{right:20px;top:20px}#PureChatWidget.purechat-top-left{left:20px;top:20px}
#PureChatWidget .purechat-header{display:flex;align-items:center;gap:6px;padding:10px 12px;background:#3b82f6;
  color:#fff;cursor:pointer;font-weight:600}
#PureChatWidget.purechat-offline .purechat-header{background:#64748b}
#PureChatWidget .purechat-title{flex:1}
#PureChatWidget .purechat-header button{border:0;background:rgba(255,255,255,.2);color:#fff;border-radius:4px;
  width:24px;height:24px;cursor:pointer}
#PureChatWidget .purechat-content{padding:10px 12px}
#PureChatWidget.purechat-widget-collapsed .purechat-content{display:none}
#PureChatWidget.purechat-widget-super-collapsed{width:auto;border-radius:24px}
#PureChatWidget.purechat-widget-super-collapsed .purechat-content,
#PureChatWidget.purechat-widget-super-collapsed .purechat-header button{display:none}
#PureChatWidget .purechat-messages{max-height:180px;overflow-y:auto;margin-bottom:8px}
#PureChatWidget .purechat-message{margin:4px 0;padding:6px 9px;border-radius:8px;background:#f1f5f9;max-width:85%}
#PureChatWidget .purechat-message-visitor{margin-left:auto;background:#dbeafe}
#PureChatWidget .purechat-message-system{max-width:none;background:none;color:#64748b;font-size:12px;text-align:center}
#PureChatWidget input,#PureChatWidget textarea{box-sizing:border-box;width:100%;margin:3px 0;padding:6px 8px;
  border:1px solid #cbd5e1;border-radius:6px;font:inherit}
#PureChatWidget .purechat-btn{background:#3b82f6;color:#fff;border:0;cursor:pointer;font-weight:600}
#PureChatWidget .purechat-btn-end{background:#e2e8f0;color:#1f2933}
#PureChatWidget [hidden]{display:none}`;
  const firstNames = ['Ada', 'Bruno', 'Chiara', 'Dmitri', 'Elif', 'Farah', 'Goran', 'Hana', 'Ines', 'Jonas'];
  const lastNames = ['Okafor', 'Lindqvist', 'Rossi', 'Nakamura', 'Dubois', 'Kowalski', 'Haddad', 'Silva'];
  const domains = ['example.com', 'example.org', 'mail.example.net'];
  const questions = [
    'Do you ship to Canada?',
    'Can I change the size of my order?',
    'Is the Model X widget waterproof?',
    'Where is my order #10432?',
    'Do you offer volume discounts?',
    'How do I return a damaged widget?',
  ];
  const answers = [
    'Sure, let me check that for you.',
    'Good question! Give me a second.',
    'Yes, we can help with that.',
  ];

  const uuid = () => {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
      const r = (Math.random() * 16) | 0;
      return (c === 'x' ? r : (r & 3) | 8).toString(16);
    });
  };
  // mulberry32: a tiny seeded PRNG, so playChat(seed) always plays the same chat.
  const random = (seed) => {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  };
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const el = (tag, props, children) => {
    const node = document.createElement(tag);
    for (const key of Object.keys(props || {})) {
      const value = props[key];
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key === 'value') node.value = value;
      else if (key.slice(0, 2) === 'on') node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.appendChild(child);
    return node;
  };

  function PCWidget(options) {
    const widgetId = String((options && options.c) || '');
    const handlers = {};
    const values = {
      'chatbox.position': 'bottomRight',
      'chatbox.expanded': false,
      'chatbox.visible': true,
      'chatbox.showMinimizeButton': true,
      'chatbox.unavailableBehavior': 'email',
      enableTranscriptDownload: false,
    };
    const fired = [];
    let available = true;
    let minimized = false;
    let chat = null; // the chat in progress: the visitor's details
    const chatboxId = widgetId; // what Pure Chat puts in chatboxId is unknown; the widget id here

    // Handlers get one args object (none for chatbox:ready); a throwing one breaks nothing.
    const fire = (name, args) => {
      fired.push({ name, args: args === undefined ? null : args });
      for (const handler of (handlers[name] || []).slice()) {
        try {
          if (args === undefined) handler();
          else handler(args);
        } catch (e) {
          console.error(`PCWidget: a ${name} handler threw`, e);
        }
      }
    };
    const on = (name, handler) => {
      if (typeof handler !== 'function') return;
      if (!handlers[name]) handlers[name] = [];
      handlers[name].push(handler);
    };

    // ---- DOM
    const title = el('span', { class: 'purechat-title', text: 'Chat with us' });
    const minimizeButton = el('button', {
      type: 'button',
      class: 'purechat-btn-minimize',
      title: 'Minimize',
      text: '–',
    });
    const collapseButton = el('button', {
      type: 'button',
      class: 'purechat-btn-collapse',
      title: 'Collapse',
      text: '▾',
    });
    const messages = el('div', { class: 'purechat-messages' });
    const field = (name, placeholder, type) =>
      type === 'textarea'
        ? el('textarea', { name, placeholder })
        : el('input', { name, placeholder, type: type || 'text' });
    const inputs = {
      name: field('name', 'Your name'),
      email: field('email', 'E-mail', 'email'),
      question: field('question', 'How can we help?', 'textarea'),
    };
    const submit = el('input', { type: 'submit', class: 'purechat-btn', value: 'Start Chat' });
    const form = el('form', { class: 'purechat-enterinfo-container' }, [
      inputs.name,
      inputs.email,
      inputs.question,
      submit,
    ]);
    const line = el('input', { name: 'message', placeholder: 'Type a message…' });
    const endButton = el('button', {
      type: 'button',
      class: 'purechat-btn purechat-btn-end',
      text: 'End chat',
    });
    const composer = el('form', { class: 'purechat-composer', hidden: '' }, [line, endButton]);
    const header = el('div', { class: 'purechat-header' }, [title, minimizeButton, collapseButton]);
    const root = el(
      'div',
      { id: 'PureChatWidget', class: 'purechat purechat-widget purechat-widget-collapsed' },
      [header, el('div', { class: 'purechat-content' }, [messages, form, composer])],
    );
    root.classList.add(positions.bottomRight);

    const say = (who, text) => {
      messages.appendChild(el('div', { class: `purechat-message purechat-message-${who}`, text }));
      messages.scrollTop = messages.scrollHeight;
    };
    const render = () => {
      const expanded = values['chatbox.expanded'] === true;
      root.classList.toggle('purechat-widget-collapsed', !expanded);
      root.classList.toggle('purechat-widget-super-collapsed', minimized && !expanded);
      root.classList.toggle('purechat-offline', !available);
      root.style.display = values['chatbox.visible'] === false ? 'none' : '';
      minimizeButton.style.display = values['chatbox.showMinimizeButton'] === false ? 'none' : '';
      collapseButton.textContent = expanded ? '▾' : '▴';
      title.textContent = available ? 'Chat with us' : 'Leave us a message';
      submit.value = available ? 'Start Chat' : 'Send Email';
      form.hidden = Boolean(chat);
      composer.hidden = !chat;
    };

    // ---- Behaviour
    const expand = () => {
      if (values['chatbox.expanded'] === true) return;
      values['chatbox.expanded'] = true;
      minimized = false;
      render();
      fire('chatbox:expand', { chatboxId });
    };
    const collapse = () => {
      if (values['chatbox.expanded'] !== true) return;
      values['chatbox.expanded'] = false;
      render();
      fire('chatbox:collapse', { chatboxId });
    };
    const minimize = () => {
      values['chatbox.expanded'] = false;
      minimized = true;
      render();
      fire('chatbox:minimize', { chatboxId });
    };
    // The visitor's details from a form or a demo call; keeps visitor.* in step.
    const visitor = (info) => {
      const v = {};
      for (const key of visitorFields) {
        if (info[key] !== undefined && info[key] !== null) values[`visitor.${key}`] = String(info[key]);
        v[key] = values[`visitor.${key}`] === undefined ? '' : values[`visitor.${key}`];
      }
      if (!info.name && (info.firstName || info.lastName)) {
        v.name = [info.firstName, info.lastName].filter(Boolean).join(' ');
        values['visitor.name'] = v.name;
      }
      // chat:start / email:send args: firstName / lastName only when the visitor gave them
      const args = { name: v.name, email: v.email, question: v.question };
      if (info.firstName) args.firstName = String(info.firstName);
      if (info.lastName) args.lastName = String(info.lastName);
      return { v, args };
    };
    const startChat = (info) => {
      const { v, args } = visitor(info || {});
      expand();
      chat = v;
      messages.textContent = '';
      say('system', 'Chat started');
      if (v.question) say('visitor', v.question);
      say('operator', `Hi ${v.firstName || v.name || 'there'}! I'm Sam from Acme. One moment…`);
      render();
      fire('chat:start', args);
      return args;
    };
    const endChat = (opts) => {
      if (!chat) return null;
      const transcriptId = uuid();
      const args = {
        chatboxId,
        name: chat.name,
        email: chat.email,
        phoneNumber: chat.phoneNumber,
        question: chat.question,
        transcriptId,
        startedByOperator: Boolean(opts && opts.startedByOperator),
      };
      chat = null;
      say('system', values.enableTranscriptDownload ? 'Chat ended. Transcript available.' : 'Chat ended');
      render();
      fire('chat:end', args);
      return transcriptId;
    };
    const sendEmail = (info) => {
      const { args } = visitor(info || {});
      expand();
      say('system', "Thanks! We'll answer by e-mail.");
      fire('email:send', args);
      return args;
    };
    const setAvailable = (yes) => {
      available = Boolean(yes);
      render();
    };

    // ---- Pure Chat's API: replay the stub's queue in order, then go live.
    const api = window.purechatApi || { l: [], t: [] };
    for (const queued of api.l || []) on(queued[0], queued[1]);
    api.on = on;
    api.get = (key) => values[key];
    api.set = (key, value) => {
      if (key === 'chatbox.expanded') return value ? expand() : collapse();
      values[key] = value;
      if (key === 'chatbox.position' && positions[value]) {
        for (const name of Object.keys(positions)) root.classList.remove(positions[name]);
        root.classList.add(positions[value]);
      }
      const input = inputs[key.replace(/^visitor\./, '')];
      if (input && key.indexOf('visitor.') === 0) input.value = value == null ? '' : String(value);
      render();
    };
    if (!window.purechatApi) window.purechatApi = api;

    // ---- UI events
    header.addEventListener('click', (e) => {
      if (e.target === minimizeButton) minimize();
      else if (values['chatbox.expanded'] === true) collapse();
      else expand();
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const info = { name: inputs.name.value, email: inputs.email.value, question: inputs.question.value };
      if (available) startChat(info);
      else sendEmail(info);
    });
    composer.addEventListener('submit', (e) => {
      e.preventDefault();
      if (line.value) say('visitor', line.value);
      line.value = '';
    });
    endButton.addEventListener('click', () => endChat({ startedByOperator: false }));

    // ---- Demo controls
    let playing = Promise.resolve();
    let autoTimer = null;
    let autoOn = false;
    const play = async (seed) => {
      const rnd = random(seed);
      const pick = (list) => list[Math.floor(rnd() * list.length)];
      const firstName = pick(firstNames);
      const lastName = pick(lastNames);
      // A new visitor each time: '' clears what the previous one left in visitor.*
      const info = {
        name: `${firstName} ${lastName}`,
        email: `${firstName}.${lastName}@${pick(domains)}`.toLowerCase(),
        question: pick(questions),
        firstName: '',
        lastName: '',
        phoneNumber: '',
      };
      if (rnd() < 0.7) Object.assign(info, { firstName, lastName }); // some sites give only name
      if (rnd() < 0.5) info.phoneNumber = `602555${String(1000 + Math.floor(rnd() * 9000))}`;
      expand();
      await wait(150);
      if (!available) {
        sendEmail(info);
        await wait(300);
        collapse();
        return { seed, kind: 'email', info };
      }
      startChat(info);
      await wait(350);
      say('operator', pick(answers));
      await wait(350);
      say('visitor', 'Great, thank you!');
      await wait(200);
      const transcriptId = endChat({ startedByOperator: rnd() < 0.2 });
      await wait(150);
      collapse();
      return { seed, kind: 'chat', info, transcriptId };
    };
    const demo = {
      fired,
      setAvailable,
      expand,
      collapse,
      minimize,
      startChat,
      endChat,
      sendEmail,
      /** Plays one deterministic chat (an offline e-mail when unavailable); < 3 s. */
      playChat: (seed) => {
        const result = playing.then(() => play(Number(seed) || 1));
        playing = result.catch(() => {});
        return result;
      },
      autoplay: (intervalMs) => {
        demo.stop();
        autoOn = true;
        let seed = 1;
        const next = () => {
          if (!autoOn) return;
          demo.playChat(seed++).then(() => {
            if (autoOn) autoTimer = setTimeout(next, intervalMs || 4000);
          });
        };
        next();
      },
      stop: () => {
        autoOn = false;
        clearTimeout(autoTimer);
      },
    };
    window.PCDemo = demo;
    this.api = api;
    this.demo = demo;

    const mount = () => {
      const head = document.head || document.getElementsByTagName('head')[0];
      if (!document.getElementById('pcwidget-styles'))
        head.appendChild(el('style', { id: 'pcwidget-styles', text: css }));
      document.body.appendChild(root);
      render();
      setTimeout(() => fire('chatbox:ready'), 0);
    };
    if (document.body) mount();
    else document.addEventListener('DOMContentLoaded', mount);
  }

  window.PCWidget = PCWidget;
})();
