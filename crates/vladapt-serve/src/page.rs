//! The web page at `/`: pick an adapter (or zero-shot with typed classes), drop one or more
//! images, see the top-k classes with bars; the adapters with their load state, loadable and
//! unloadable from the page. Plain HTML + JS, no external resources.

/// The page.
pub const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vladapt</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
#drop{border:2px dashed #888;border-radius:8px;padding:2rem;text-align:center;cursor:pointer;margin:1rem 0}
#drop.over{background:#eef}
.result{display:flex;gap:1rem;align-items:flex-start;border-top:1px solid #ddd;padding:.6rem 0}
.result img{width:112px;height:112px;object-fit:cover;border-radius:4px}
.bar{background:#4a7;height:.9rem;border-radius:3px}
td{padding:.15rem .5rem} .err{color:#b00} label{margin-right:1rem}
#adapters td:first-child{font-family:monospace}
</style></head><body>
<h1>vladapt</h1><p id="info">loading…</p>
<div>
<label>Adapter <select id="adapter"></select></label>
<label>Classes (zero-shot) <input id="classes" size="32" placeholder="cat, dog, car"></label>
<label>Top-k <input id="topk" type="number" min="1" value="5" style="width:4em"></label>
</div>
<div id="drop">Drop images here or click to choose (several at once)<input id="file" type="file" accept="image/*" multiple hidden></div>
<p id="status"></p>
<div id="results"></div>
<h2>Adapters</h2>
<table id="adapters"><thead><tr><th>name</th><th>method</th><th>classes</th><th>state</th><th></th></tr></thead><tbody></tbody></table>
<script>
const $=id=>document.getElementById(id);
const drop=$('drop'),file=$('file'),results=$('results'),sel=$('adapter'),status=$('status');
function esc(s){return String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]))}
async function refresh(){
  const [h,a]=await Promise.all([fetch('/health').then(r=>r.json()),fetch('/v1/adapters').then(r=>r.json())]);
  $('info').textContent='model '+h.model+(h.method?' · default: '+(h.adapter||'zero-shot')+' ('+h.method+', '+h.classes.length+' classes)':'');
  const keep=sel.value;
  sel.innerHTML='<option value="">'+(h.adapter?'default ('+esc(h.adapter)+')':'zero-shot')+'</option>'+
    a.adapters.filter(x=>x.state==='available').map(x=>'<option value="'+esc(x.name)+'">'+esc(x.name)+' ('+esc(x.method)+')</option>').join('');
  if([...sel.options].some(o=>o.value===keep))sel.value=keep;
  $('adapters').tBodies[0].innerHTML=a.adapters.map(x=>'<tr data-name="'+esc(x.name)+'"><td>'+esc(x.name)+'</td><td>'+esc(x.method)+'</td><td>'+x.classes.length+'</td><td class="state">'+
    (x.state==='refused'?'<span class="err" title="'+esc(x.reason)+'">refused</span>':(x.loaded?'loaded':'on disk'))+'</td><td>'+
    (x.state==='available'?(x.loaded?'<button data-act="unload">unload</button>':'<button data-act="load">load</button>'):'')+'</td></tr>').join('');
}
$('adapters').onclick=async e=>{
  const b=e.target.closest('button');if(!b)return;
  const name=b.closest('tr').dataset.name;
  const r=await fetch('/v1/adapters/'+encodeURIComponent(name)+(b.dataset.act==='load'?'/load':''),{method:b.dataset.act==='load'?'POST':'DELETE'});
  if(!r.ok){status.innerHTML='<span class="err">'+esc((await r.json()).error.message)+'</span>'}
  refresh();
};
drop.onclick=()=>file.click();
drop.ondragover=e=>{e.preventDefault();drop.classList.add('over')};
drop.ondragleave=()=>drop.classList.remove('over');
drop.ondrop=e=>{e.preventDefault();drop.classList.remove('over');send([...e.dataTransfer.files])};
file.onchange=()=>{send([...file.files]);file.value=''};
async function send(files){
  if(!files.length)return;
  status.textContent='classifying '+files.length+' image(s)…';
  const fd=new FormData();
  for(const f of files)fd.append('image',f,f.name);
  if(sel.value)fd.append('adapter',sel.value);
  const cls=$('classes').value.trim();if(cls)fd.append('classes',cls);
  fd.append('top_k',$('topk').value||'5');
  let r,j;
  try{r=await fetch('/v1/classify',{method:'POST',body:fd});j=await r.json()}catch(e){status.innerHTML='<span class="err">'+esc(e)+'</span>';return}
  if(!r.ok){status.innerHTML='<span class="err">'+esc(j.error.message)+'</span>';return}
  results.innerHTML=j.results.map((res,i)=>'<div class="result" data-image="'+esc(res.image)+'"><img alt="" src="'+URL.createObjectURL(files[i])+'"><div><b>'+esc(res.image)+'</b> · '+esc(j.adapter||'zero-shot')+' ('+esc(j.method)+')<table>'+
    res.predictions.map(p=>'<tr class="pred" data-class="'+esc(p.class)+'" data-prob="'+p.probability+'"><td>'+esc(p.class)+'</td><td>'+(100*p.probability).toFixed(1)+' %</td><td style="width:12rem"><div class="bar" style="width:'+(100*p.probability)+'%"></div></td></tr>').join('')+
    '</table></div></div>').join('');
  status.textContent='done';
  refresh();
}
refresh().catch(e=>{$('info').textContent='cannot reach the server: '+e});
</script></body></html>
"#;
